import NIOCore
import NIOPosix
import Testing

@testable import SwarmCore

@Suite struct ListenFailureTests {
    /// What binding says, told in the user's terms.
    @Test func bindErrorsAreToldWithTheirCure() async throws {
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(taken.localAddress?.port)
        let inUse = try await failure(binding: "127.0.0.1", port)
        #expect(inUse.reason == .portInUse)
        #expect(inUse.message(portFlag: "-port") == "cannot listen on 127.0.0.1:\(port): the port is in use (a tracker or client still running?); pick another with -port")
        // 192.0.2.0/24 is reserved for documentation: never an address of this machine (binding
        // it fails unless the system lets programs bind addresses that are not theirs).
        let nonlocalBind = try FileSystem.readText("/proc/sys/net/ipv4/ip_nonlocal_bind")
        if nonlocalBind.hasPrefix("0") {
            #expect(try await failure(binding: "192.0.2.1", port).reason == .notAnAddressHere)
        }
        try await taken.close()

        // (A name that does not resolve is not tried here: resolving it may ask a name server.)
        struct Odd: Error {}
        #expect(ListenFailure(host: "h", port: 2, error: Odd()).reason == .other("Odd()"))
        let other = ListenFailure(host: "h", port: 2, error: IOError(errnoCode: EINVAL, reason: "bind"))
        #expect(other.description == "cannot listen on h:2: invalid argument", "the system's words, not NIO's")
        #expect(inUse.description == "cannot listen on 127.0.0.1:\(port): the port is in use (a tracker or client still running?)")
        // A client without -advertise listens on every address; an IPv6 address is bracketed.
        let busy = IOError(errnoCode: EADDRINUSE, reason: "bind")
        #expect(ListenFailure(host: "::", port: 7, error: busy).description == "cannot listen on port 7 of every address: the port is in use (a tracker or client still running?)")
        #expect(ListenFailure(host: "0.0.0.0", port: 7, error: busy).description == "cannot listen on port 7 of every address: the port is in use (a tracker or client still running?)")
        #expect(ListenFailure(host: "::1", port: 7, error: busy).description == "cannot listen on [::1]:7: the port is in use (a tracker or client still running?)")
    }

    /// The ``ListenFailure`` binding `host`:`port` ends in.
    func failure(binding host: String, _ port: Int) async throws -> ListenFailure {
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: host, port: port).get()
            try await channel.close()
            Issue.record("binding \(host):\(port) succeeded")
            return ListenFailure(host: host, port: port, error: CancellationError())
        } catch {
            return ListenFailure(host: host, port: port, error: error)
        }
    }
}
