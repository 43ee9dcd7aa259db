import SwarmProtocol

extension Swarm {
    /// How a client runs.
    public struct Configuration: Sendable {
        /// The client's name, as in the seed's `-name`.
        public var name: String
        /// Where the trackers listen; chunks are registered with each, and each is asked.
        public var trackers: [PeerAddress]
        /// The host registered for our chunks; `nil`: the local address of each tracker
        /// connection (``Advertisement/connectionAddress(port:)``).
        public var advertiseHost: String?
        /// The transfer port; 0 picks a free one (the demo's peers).
        public var transferPort: Int
        /// The local address the peer server binds: `::` (every address, IPv4 too) when none is
        /// advertised; `0.0.0.0` is tried after it where IPv6 is missing.
        public var listenHost: String
        /// Paces everything this client serves, if set.
        public var uploadLimit: TokenBucket?
        /// Fetches running at once, in total and from any one holder: 8 and 8, more on a long
        /// link (``FetchWindow``).
        public var fetchWindow = FetchWindow(total: 8, perPeer: 8, adapts: true)
        /// Bad chunks after which a holder is not used again in this run.
        public var maxBadChunks = 3
        /// Stop once every chunk is held, instead of serving until cancelled.
        public var exitWhenComplete = false
        /// Start with fetching paused.
        public var startPaused = false
        /// Reconnect timing for the tracker link.
        public var trackerBackoff = Backoff()
        /// Retry timing for a chunk nobody can serve yet.
        public var chunkBackoff = Backoff(initial: .milliseconds(500), cap: .seconds(5))
        /// How chunks are downloaded.
        public var fetcher = ChunkFetcher()

        /// A configuration with the seed's defaults for everything not given.
        public init(name: String, trackers: [PeerAddress], advertiseHost: String?, transferPort: Int, listenHost: String? = nil) {
            self.name = name
            self.trackers = trackers
            self.advertiseHost = advertiseHost
            self.transferPort = transferPort
            self.listenHost = listenHost ?? advertiseHost.map(Self.bindHost) ?? Self.everyAddress
        }

        /// Every local address, IPv6 and IPv4 (a dual-stack socket).
        static let everyAddress = "::"

        /// Binds the advertised address when it is a literal IP, else every interface.
        private static func bindHost(for host: String) -> String {
            let isLiteral = host.contains(":") || host.split(separator: ".").allSatisfy { Int($0) != nil }
            return isLiteral ? host : everyAddress
        }
    }

    /// A command the user gave that cannot be carried out.
    public enum CommandError: Error, Equatable, CustomStringConvertible {
        /// The chunk index is outside `1...total`.
        case noSuchChunk(Int, total: Int)
        /// The chunk is already held.
        case alreadyHeld(ChunkIndex)
        /// A file was named, and there is no such file (a chunk swarm has none).
        case noSuchFile(Int, count: Int)

        public var description: String {
            switch self {
            case .noSuchChunk(let value, let total): return "no chunk \(value): chunks are 1–\(total)"
            case .alreadyHeld(let index): return "chunk \(index) is already here"
            case .noSuchFile(let index, let count):
                return count == 0 ? "no files here: a chunk folder is one file in chunks" : "no file \(index + 1): files are 1–\(count)"
            }
        }
    }

    /// The engine could not start.
    public enum SwarmError: Error, CustomStringConvertible {
        /// The advertised host and the bound port do not make an address.
        case badAdvertisedAddress(String)

        public var description: String {
            switch self {
            case .badAdvertisedAddress(let host): return "cannot advertise \"\(host)\" as our address"
            }
        }
    }
}
