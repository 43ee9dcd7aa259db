import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A full disk, a read-only folder, and a swarm of eleven.
@Suite(.serialized)
struct CapacityTests {
    /// A chunk folder `name` of `workspace` on a fresh tmpfs of `size` (`512k`, `8m`), listing none
    /// of `total` chunks. Unmount it with ``Workspace/tearDown(unmounting:)``.
    func tmpfsFolder(_ name: String, in workspace: Workspace, size: String, total: Int) throws -> URL {
        let folder = workspace.root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard system("mount -t tmpfs -o size=\(size) tmpfs '\(folder.path)'") == 0 else { throw MountError(path: folder.path) }
        try "\(total),LASTCHUNK\n".write(to: folder.appendingPathComponent("local_chunks.txt"), atomically: true, encoding: .utf8)
        return folder
    }

    struct MountError: Error { let path: String }

    @Test(.enabled(if: canMountTmpfs(), "needs permission to mount a tmpfs"))
    func fullDiskIsReportedListsOnlyWholeChunksAndRecoversWhenSpaceReturns() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 4, size: 200 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 4)
        let folder = try tmpfsFolder("small", in: workspace, size: "512k", total: 4)
        defer { _ = system("umount -l '\(folder.path)'") }
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let leecher = try workspace.startClient("small", folder: "small", trackerPort: port)
        await waitUntil("the full disk is reported") { leecher.output.contains("No space left on device") }
        #expect(workspace.listedChunks("small").count < 4)
        for index in workspace.listedChunks("small") {
            #expect(workspace.chunk(index, in: "small") == file[index], "listed chunk \(index) is whole")
        }
        #expect(system("mount -o remount,size=8m '\(folder.path)'") == 0)
        await waitUntil("the download completes once space returns", timeout: .seconds(60)) {
            workspace.listedChunks("small").count == 4
        }
        SwarmExchangeTests.assertHolds(workspace, "small", file)
        await workspace.tearDown(unmounting: folder)
    }

    /// Root ignores permission bits, so the folder is made unwritable the way a read-only disk is:
    /// a tmpfs remounted read-only.
    @Test(.enabled(if: canMountTmpfs(), "needs permission to mount a tmpfs"))
    func readOnlyFolderIsReportedLeftUntouchedAndFillsOnceWritable() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 4, size: 64 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 4)
        let folder = try tmpfsFolder("readonly", in: workspace, size: "8m", total: 4)
        defer { _ = system("umount -l '\(folder.path)'") }
        let list = "4,LASTCHUNK\n"
        #expect(system("mount -o remount,ro '\(folder.path)'") == 0)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let leecher = try workspace.startClient("readonly", folder: "readonly", trackerPort: port)
        await waitUntil("the read-only folder is reported") { leecher.output.contains("Read-only file system") }
        #expect(try String(contentsOf: folder.appendingPathComponent("local_chunks.txt"), encoding: .utf8) == list)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["local_chunks.txt"])
        #expect(system("mount -o remount,rw '\(folder.path)'") == 0)
        await waitUntil("the download completes once the folder is writable") {
            workspace.listedChunks("readonly").count == 4
        }
        SwarmExchangeTests.assertHolds(workspace, "readonly", file)
        await workspace.tearDown(unmounting: folder)
    }

    @Test func oneSeederAndTenClientsAllCompleteByteExact() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 16, size: 64 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 16)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        for number in 1...10 {
            try workspace.makeFolder("client\(number)", chunks: [:], total: 16)
            try workspace.startClient("client\(number)", folder: "client\(number)", trackerPort: port)
        }
        await waitUntil("all ten complete", timeout: .seconds(90)) {
            (1...10).allSatisfy { workspace.listedChunks("client\($0)").count == 16 }
        }
        for number in 1...10 { SwarmExchangeTests.assertHolds(workspace, "client\(number)", file) }
        await workspace.tearDown()
    }
}

/// Whether this machine lets the tests mount a small tmpfs (root in a sandbox that allows it).
func canMountTmpfs() -> Bool {
    let probe = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-mount-probe-\(getpid())")
    try? FileManager.default.createDirectory(at: probe, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: probe) }
    guard system("mount -t tmpfs -o size=64k tmpfs '\(probe.path)' 2>/dev/null") == 0 else { return false }
    _ = system("umount '\(probe.path)'")
    return true
}
