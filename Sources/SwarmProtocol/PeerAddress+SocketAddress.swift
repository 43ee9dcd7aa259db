import NIOCore

extension PeerAddress {
    /// The other end of a connection, as the logs name it (`127.0.0.1:6001`); `nil` when the
    /// channel has no IP address (closed, or a Unix socket).
    public init?(remote address: SocketAddress?) {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        self.init(host: ip, port: port)
    }
}
