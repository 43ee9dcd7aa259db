import NIOPosix
import SwarmCore
import SwarmTorrent
import Synchronization
import TorrentProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `client -make-torrent PATH -announce URL [-piece-size KIB] [-private] -o OUT.torrent`: hashes
/// the content on every core, shows progress on a terminal for large inputs, writes the torrent
/// whole (a temporary file renamed into place) and says what it made.
struct MakeTorrentRun {
    let path: String
    let announce: [String]
    let pieceKiB: Int?
    let isPrivate: Bool
    let output: String

    func run() async throws {
        var maker = TorrentMaker(path: path, announce: announce, pieceLength: pieceKiB.map { $0 << 10 })
        maker.isPrivate = isPrivate
        let showsProgress = isatty(STDERR_FILENO) == 1
        let lastShown = Mutex(ContinuousClock.now)
        let bytes: [UInt8]
        do {
            bytes = try await maker.make(threadPool: .singleton) { done, total in
                guard showsProgress, total >= 64 << 20 else { return }
                let now = ContinuousClock.now
                guard lastShown.withLock({ last in
                    guard now - last > .milliseconds(250) || done == total else { return false }
                    last = now
                    return true
                }) else { return }
                let line = "\rhashing \(path): \(done * 100 / total)% (\(ByteCount.text(Int(done))) of \(ByteCount.text(Int(total))))\(done == total ? "\n" : "")"
                _ = Array(line.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            }
        } catch {
            throw ClientFailure(reason: "cannot make a torrent of \(error)")
        }
        do {
            try FileSystem.replaceAtomically(output, with: bytes)
        } catch {
            throw ClientFailure(reason: "cannot write the torrent: \(error)")
        }
        let metainfo = try Metainfo(parsing: bytes)
        print("wrote \(output): \(metainfo.files.count) file\(metainfo.files.count == 1 ? "" : "s"), \(ByteCount.text(Int(metainfo.totalLength))) in \(metainfo.pieceCount) pieces of \(ByteCount.text(metainfo.pieceLength)); info-hash \(metainfo.infoHash)")
    }
}
