import NIOCore
import NIOPosix
import Testing

@testable import SwarmCore

@Suite struct ConnectionErrorTextTests {
    /// NIO's errors for a refused connection, by address and by name, and for a timeout, in
    /// the words the log and the UI show.
    @Test(arguments: ["127.0.0.1", "localhost"])
    func failedConnectionsAreToldInPlainWords(host: String) async throws {
        let refusing = try RefusingPort()
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: refusing.port).get()
            try await channel.close()
            Issue.record("connected to a port nothing listens on")
        } catch {
            #expect(ConnectionErrorText.describe(error) == "connection refused", "from \(error)")
        }
        #expect(ConnectionErrorText.describe(ChannelError.connectTimeout(.seconds(3))) == "no answer within 3000 ms")
    }
}
