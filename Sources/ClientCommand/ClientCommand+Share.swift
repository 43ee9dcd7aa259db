import SwarmCore
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ClientCommand {
    /// `-share FILE`: the folder made from the file, and the command another machine runs to
    /// fetch it; `-chunks N`: a folder ready to receive N chunks.
    func prepareFolder() throws {
        do {
            if let share {
                let size = (chunkSize ?? SharedFile.defaultChunkSize / 1024) * 1024
                let shared = try SharedFile.share(file: share, into: folder!, chunkSize: size)
                let what = "\(shared.chunks) chunk\(shared.chunks == 1 ? "" : "s") of up to \(size / 1024) KiB (\(shared.bytes) bytes)"
                say(shared.alreadyThere ? "\(folder!) already holds \(share) as \(what); serving it" : "shared \(share) as \(what) in \(folder!)")
                say("on another machine, fetch it with:")
                say("  swift run -c release client -folder \(Self.baseName(share))_chunks -chunks \(shared.chunks) -tracker \(trackerForOthers) -transfer_port \(transferPort!) -name \(Self.baseName(share))-peer")
            } else if let chunks, try SharedFile.prepare(folder: folder!, total: chunks) {
                say("made \(folder!) for \(chunks) chunk\(chunks == 1 ? "" : "s"); fetching them all")
            }
        } catch {
            throw ClientFailure(reason: error.description)
        }
    }

    /// A line on standard output at once (it is not a terminal in scripts and tests).
    private func say(_ line: String) {
        LogFile.standardOutput.append(line: line)
    }

    /// The trackers as another machine reaches them: this machine's name instead of a loopback address.
    private var trackerForOthers: String {
        var name = [CChar](repeating: 0, count: 256)
        let hostName = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        let addresses = (try? trackers()) ?? []
        return addresses.map { address in
            guard let hostName, PeerAddress.isLoopback(address.host) else { return address.description }
            return "\(hostName):\(address.port)"
        }.joined(separator: ",")
    }

    private static func baseName(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.isEmpty ? "file" : name.replacingOccurrences(of: " ", with: "_")
    }
}
