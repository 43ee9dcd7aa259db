import NIOCore
import NIOPosix
import Testing

@testable import SwarmCore

@Suite struct ConnectionErrorTextTests {
    /// NIO's errors for a refused connection, by address and by name, and for a timeout, in
    /// the words the log and the UI show.
    @Test(arguments: ["127.0.0.1", "localhost"])
    func failedConnectionsAreToldInPlainWords(host: String) async throws {
        let closed = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(closed.localAddress?.port)
        try await closed.close()
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: host, port: port).get()
            try await channel.close()
            Issue.record("connected to a closed port")
        } catch {
            #expect(ConnectionErrorText.describe(error) == "connection refused", "from \(error)")
        }
        #expect(ConnectionErrorText.describe(ChannelError.connectTimeout(.seconds(3))) == "no answer within 3000 ms")
    }
}
