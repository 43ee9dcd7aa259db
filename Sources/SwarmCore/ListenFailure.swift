import NIOCore
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A port could not be listened on, in the user's terms: the address, and why, with the cure
/// where there is one. The tracker's `-port` and a client's `-transfer_port` fail this way.
public struct ListenFailure: Error, CustomStringConvertible {
    /// Why listening failed.
    public enum Reason: Equatable, Sendable {
        /// Something else listens there: a tracker or client still running, or another program.
        case portInUse
        /// The host is not an address of this machine.
        case notAnAddressHere
        /// The system refused (a port below 1024 needs privileges).
        case notPermitted
        /// The host name does not resolve.
        case unknownHost
        /// Anything else, in ``ConnectionErrorText``'s words.
        case other(String)
    }

    /// The address asked for.
    public let host: String
    /// The port asked for.
    public let port: Int
    /// Why it failed.
    public let reason: Reason

    /// The failure to listen on `host`:`port` that `error` (from binding it) describes.
    public init(host: String, port: Int, error: any Error) {
        self.host = host
        self.port = port
        switch (error as? IOError)?.errnoCode {
        case EADDRINUSE: reason = .portInUse
        case EADDRNOTAVAIL: reason = .notAnAddressHere
        case EACCES, EPERM: reason = .notPermitted
        default: reason = error is SocketAddressError.UnknownHost ? .unknownHost : .other(ConnectionErrorText.describe(error))
        }
    }

    /// The message; with `portFlag` (`-port`, `-transfer_port`), the cure too where picking
    /// another port is one.
    public func message(portFlag: String? = nil) -> String {
        let why: String
        let cure = portFlag.map { "; pick another with \($0)" } ?? ""
        switch reason {
        case .portInUse: why = "the port is in use (a tracker or client still running?)" + cure
        case .notAnAddressHere: why = "\(host) is not an address of this machine"
        case .notPermitted: why = "not permitted (ports below 1024 need privileges)" + cure
        case .unknownHost: why = "\(host) is not a known host name"
        case .other(let text): why = text
        }
        let place = PeerAddress.isEveryAddress(host) ? "port \(port) of every address" : PeerAddress(host: host, port: port)?.description ?? "\(host):\(port)"
        return "cannot listen on \(place): \(why)"
    }

    public var description: String { message() }
}
