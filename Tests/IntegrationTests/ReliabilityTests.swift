import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults caused for real: killed processes, lying peers, dead holders.
@Suite(.serialized)
struct ReliabilityTests {
    @Test func trackerKilledAndRestartedOnTheSamePortIsRejoined() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 12, size: 64 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 12)
        try workspace.makeFolder("leecher", chunks: [:], total: 12)
        let (tracker, port) = try await workspace.startTracker()
        let seeder = try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        // 64 KiB/s: about 12 s for the whole file, so the tracker dies mid-download.
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-download-limit", "64"])
        await waitUntil("the leecher has some chunks") { !workspace.listedChunks("leecher").isEmpty }
        await tracker.stop(signal: SIGKILL)
        await waitUntil("both clients notice") { seeder.output.contains("tracker retrying") && leecher.output.contains("tracker retrying") }
        #expect(workspace.listedChunks("leecher").count < 12, "the download was not over when the tracker died")
        try workspace.start("tracker-again", Paths.tracker, ["-port", "\(port)"])
        await waitUntil("the leecher completes through the new tracker", timeout: .seconds(60)) {
            workspace.listedChunks("leecher").count == 12
        }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        await waitUntil("the seeder registered again") { ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM,1,") == true }
        await workspace.tearDown()
    }

    /// The list is rewritten a little after each commit; a client stopped by SIGTERM right after
    /// fetching a chunk still lists every chunk it fetched, and only those.
    @Test func clientStoppedRightAfterAFetchListsEveryChunkItFetched() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 30, size: 48 * 1024)
        // 400 KiB/s: a chunk about every 120 ms, so the stop lands just after a commit.
        let leecher = try await workspace.startSeederAndLeecher(file, leecherArguments: ["-download-limit", "400"])
        await waitUntil("a few chunks are fetched") { Self.fetched(in: leecher.output).count >= 3 }
        #expect(await leecher.stop() == 0, "SIGTERM stops the client cleanly")
        let fetched = Self.fetched(in: leecher.output)
        #expect(fetched.count < 30, "stopped mid-download")
        #expect(workspace.listedChunks("leecher") == fetched)
        for index in fetched {
            #expect(workspace.chunk(index, in: "leecher") == file[index], "chunk \(index) is exact")
        }
        await workspace.tearDown()
    }

    /// A client stopped mid-transfer leaves no partial file behind: the fetches under way end,
    /// their files removed, before it exits.
    @Test func clientStoppedMidTransferLeavesNoPartialFile() async throws {
        let workspace = try Workspace()
        let leecher = try await workspace.startLeecherMidTransfer()
        #expect(await leecher.stop() == 0, "SIGTERM stops the client cleanly")
        #expect(workspace.partialFiles(in: "leecher") == [], "every partial file is removed before the client exits")
        await workspace.tearDown()
    }

    /// A list that cannot be rewritten (here a directory has taken its place) is reported, the
    /// download goes on, and the list is written once it can be.
    @Test func unwritableListIsReportedAndWrittenOnceItCanBe() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 8, size: 32 * 1024)
        // 64 KiB/s: the list is replaced well before the download ends.
        let leecher = try await workspace.startSeederAndLeecher(file, leecherArguments: ["-download-limit", "64"])
        await waitUntil("the leecher has read its folder") { leecher.output.contains("chunks in") }
        let list = workspace.root.appendingPathComponent("leecher/local_chunks.txt")
        try FileManager.default.removeItem(at: list)
        try FileManager.default.createDirectory(at: list.appendingPathComponent("blocker"), withIntermediateDirectories: true)
        await waitUntil("the failed rewrite is reported") { leecher.output.contains("cannot list new chunks in local_chunks.txt") }
        #expect(leecher.isRunning, "the download goes on")
        try FileManager.default.removeItem(at: list)
        await waitUntil("the list is written once it can be", timeout: .seconds(60)) { workspace.listedChunks("leecher").count == 8 }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        await workspace.tearDown()
    }

    /// The chunks a client's output says it fetched.
    static func fetched(in output: String) -> Set<Int> {
        Set(output.split(separator: "\n").compactMap { line in
            guard let range = line.range(of: "] fetched chunk ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        })
    }

    @Test func clientKilledTwentyTimesNeverListsABadChunkAndFinishes() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 30, size: 48 * 1024)
        try workspace.makeFolder("seeder", chunks: file, total: 30)
        try workspace.makeFolder("victim", chunks: [:], total: 30)
        let (_, port) = try await workspace.startTracker()
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let folder = workspace.root.appendingPathComponent("victim")
        var generator = SystemRandomNumberGenerator()
        var interrupted = 0
        for round in 1...20 {
            let victim = try workspace.startClient("victim-\(round)", folder: "victim", trackerPort: port, extra: ["-download-limit", "400"])
            await waitUntil("round \(round) starts") { victim.output.contains("chunks in") || !victim.isRunning }
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...250, using: &generator)))
            await victim.stop(signal: SIGKILL)
            if workspace.listedChunks("victim").count < 30 { interrupted += 1 }
            // The folder must pass the start-up checks and list only byte-exact chunks.
            let text = try String(contentsOf: folder.appendingPathComponent("local_chunks.txt"), encoding: .utf8)
            #expect(text.hasSuffix("30,LASTCHUNK\n"), "round \(round): the list is whole")
            for index in workspace.listedChunks("victim") {
                #expect(workspace.chunk(index, in: "victim") == file[index], "round \(round): chunk \(index) is exact")
            }
        }
        #expect(interrupted >= 5, "the kills really interrupted downloads (\(interrupted) of 20 rounds)")
        let last = try workspace.startClient("victim-final", folder: "victim", trackerPort: port, extra: ["-exit-when-complete"])
        await waitUntil("the final run completes", timeout: .seconds(60)) { !last.isRunning }
        #expect(last.process.terminationStatus == 0)
        SwarmExchangeTests.assertHolds(workspace, "victim", file)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(names.filter { $0.hasPrefix(".") || $0.contains("tmp") }.isEmpty, "no temporary file is left: \(names)")
        await workspace.tearDown()
    }

    @Test func lyingPeerIsBannedAfterThreeBadChunks() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 6)
        try workspace.makeFolder("liar", chunks: file, total: 6)
        try workspace.makeFolder("honest", chunks: file, total: 6)
        try workspace.makeFolder("leecher", chunks: [:], total: 6)
        let (_, port) = try await workspace.startTracker()
        try workspace.startSeedPeer("liar", folder: "liar", trackerPort: port, corrupt: true)
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port, extra: ["-max-bad-chunks", "3", "-max-fetches", "4"])
        await waitUntil("the liar is banned") { leecher.output.contains("not using localhost:") }
        await waitUntil("fetches already under way at the ban end") {
            leecher.output.split(separator: "\n").filter { $0.contains("requested") }.count
                == leecher.output.split(separator: "\n").filter { $0.contains("expected") || $0.contains("fetched") }.count
        }
        let badLines = leecher.output.split(separator: "\n").filter { $0.contains("expected") }
        // The third bad chunk bans the peer; fetches already running with it (-max-fetches 4) may still fail.
        #expect((3...6).contains(badLines.count), "\(badLines.count) bad chunks")
        #expect(workspace.listedChunks("leecher").isEmpty)
        try workspace.startClient("honest", folder: "honest", trackerPort: port)
        await waitUntil("complete from the honest peer") { workspace.listedChunks("leecher").count == 6 }
        SwarmExchangeTests.assertHolds(workspace, "leecher", file)
        let output = leecher.output
        let ban = try #require(output.range(of: "not using localhost:"))
        let afterBan = output[ban.upperBound...].split(separator: "\n")
        #expect(!afterBan.contains { $0.contains("requested") && $0.contains("localhost") }, "the banned peer is not asked again")
        await workspace.tearDown()
    }

    @Test func trackerForgetsHoldersThatStopServingButKeepsSeedEraPeers() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 2)
        try workspace.makeFolder("dies", chunks: [1: file[1]!], total: 2)
        try workspace.makeFolder("seedera", chunks: [2: file[2]!], total: 2)
        let (_, port) = try await workspace.startTracker(arguments: ["-check-interval", "0.3", "-grace", "1"])
        let dying = try workspace.startClient("dies", folder: "dies", trackerPort: port)
        try workspace.startSeedPeer("seedera", folder: "seedera", trackerPort: port)
        await waitUntil("both registered") {
            ask(trackerPort: port, "WHERE_CHUNK,1")?.hasPrefix("GET_CHUNK_FROM") == true
                && ask(trackerPort: port, "WHERE_CHUNK,2")?.hasPrefix("GET_CHUNK_FROM") == true
        }
        await dying.stop(signal: SIGKILL)
        await waitUntil("the dead holder is forgotten") { ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1" }
        // The seed-era peer closed its tracker connection long ago but still serves: kept.
        #expect(ask(trackerPort: port, "WHERE_CHUNK,2")?.hasPrefix("GET_CHUNK_FROM,2,") == true)
        await workspace.tearDown()
    }
}

/// Hostile input at the real tracker: it closes the offending connection only.
@Suite(.serialized)
struct TrackerAbuseTests {
    static let hash = String(repeating: "a", count: 40)
    static let inputs: [(String, String)] = [
        ("4 KiB without a terminator", String(repeating: "W", count: 4096)),
        ("binary garbage", String(decoding: (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self)),
        ("unknown verb", "HELLO,1\n"),
        ("index zero", "WHERE_CHUNK,0\n"),
        ("negative index", "WHERE_CHUNK,-3\n"),
        ("huge index", "WHERE_CHUNK,99999999999999999999\n"),
        ("index not a number", "WHERE_CHUNK,abc\n"),
        ("short hash", "LOCAL_CHUNKS,1,abc,127.0.0.1,6000\n"),
        ("port 0", "LOCAL_CHUNKS,1," + hash + ",127.0.0.1,0\n"),
        ("port 70000", "LOCAL_CHUNKS,1," + hash + ",127.0.0.1,70000\n"),
        ("bad holder", "LOCAL_CHUNKS,1," + hash + ",not a host!,6000\n"),
    ]

    /// Sends `text` on a new connection; whether the tracker then closed it (within 2 s).
    func isClosedAfterSending(_ text: String, port: Int) -> Bool {
        guard let descriptor = connectLoopback(port: port) else { return false }
        defer { close(descriptor) }
        if !text.isEmpty { send(text, to: descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        // Closed with our bytes unread, the kernel resets instead of a clean end of stream.
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    @Test(arguments: inputs.indices)
    func badInputClosesThatConnectionOnly(_ position: Int) async throws {
        let (name, input) = Self.inputs[position]
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker()
        let digest = String(repeating: "b", count: 40)
        let persistent = try #require(connectLoopback(port: port))
        defer { close(persistent) }
        send("LOCAL_CHUNKS,2,\(digest),127.0.0.1,6001\n", to: persistent)
        let closed = isClosedAfterSending(input, port: port)
        #expect(closed, "\(name): connection closed")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,2") == "GET_CHUNK_FROM,2,\(digest),127.0.0.1,6001", "\(name): others still served")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1", "\(name): registry unchanged")
        await workspace.tearDown()
    }

    @Test func silentConnectionIsClosed() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-idle-timeout", "0.5"])
        #expect(isClosedAfterSending("", port: port), "a silent connection is closed")
        #expect(ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1", "a client that speaks is answered")
        await workspace.tearDown()
    }

    /// Opens a link that asks `WHERE_CHUNK,1` and waits up to 15 s for the verdict: the open
    /// descriptor once answered, or why not (refused, closed unanswered, no answer).
    static func openLink(port: Int) -> Result<Int32, LinkRefusal> {
        guard let descriptor = connectLoopback(port: port) else { return .failure(LinkRefusal("connect: \(String(cString: strerror(errno)))")) }
        send("WHERE_CHUNK,1\n", to: descriptor)
        let deadline = ContinuousClock.now + .seconds(15)
        var buffer = [UInt8](repeating: 0, count: 64)
        var count = read(descriptor, &buffer, buffer.count)
        // A slow tracker leaves the read timed out (EAGAIN): that is no verdict yet.
        while count < 0, errno == EAGAIN, ContinuousClock.now < deadline { count = read(descriptor, &buffer, buffer.count) }
        let failure = count < 0 ? String(cString: strerror(errno)) : "end of stream"
        guard count > 0 else {
            close(descriptor)
            return .failure(LinkRefusal("read: \(failure)"))
        }
        return .success(descriptor)
    }

    struct LinkRefusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func connectionsBeyondTheCapAreRefusedAndPlacesComeBack() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-max-connections", "3"])
        // The start-up probes may hold places for a moment: retry until three links are answered.
        let (held, refusals) = await onOwnThread {
            var held: [Int32] = []
            var refusals: [String] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while held.count < 3, refusals.count < 100, ContinuousClock.now < deadline {
                switch Self.openLink(port: port) {
                case .success(let link): held.append(link)
                case .failure(let refusal): refusals.append(refusal.description)
                }
            }
            return (held, refusals)
        }
        #expect(held.count == 3, "three links are admitted (refused: \(refusals))")
        let fourth = await onOwnThread { Self.openLink(port: port) }
        if case .success(let link) = fourth { close(link) }
        #expect(throws: LinkRefusal.self, "a fourth connection is refused") { try fourth.get() }
        await waitUntil("the refusal is logged") { workspace.log.contains("refusing a connection: 3 already open") }
        for link in held { close(link) }
        await waitUntil("places come back when connections close") {
            ask(trackerPort: port, "WHERE_CHUNK,1") == "CHUNK_LOCATION_UNKNOWN,1"
        }
        await workspace.tearDown()
    }
}

/// Peers that die or get flooded.
@Suite(.serialized)
struct PeerFaultTests {
    @Test func peerKilledMidTransferLeavesNothingAndTheChunkComesFromElsewhere() async throws {
        let workspace = try Workspace()
        let big = Workspace.content(of: 1, size: 2 << 20)
        try workspace.makeFolder("slow", chunks: [1: big], total: 1)
        try workspace.makeFolder("other", chunks: [1: big], total: 1)
        try workspace.makeFolder("leecher", chunks: [:], total: 1)
        let (_, port) = try await workspace.startTracker()
        let slow = try workspace.startClient("slow", folder: "slow", trackerPort: port, extra: ["-upload-limit", "256"])
        let leecher = try workspace.startClient("leecher", folder: "leecher", trackerPort: port)
        await waitUntil("the transfer from the slow peer is under way") {
            leecher.output.contains("requested chunk 1 from") && slow.output.contains("registered")
        }
        // Let some bytes flow, then kill the sender.
        let partial = workspace.root.appendingPathComponent("leecher")
        await waitUntil("a partial file exists") {
            ((try? FileManager.default.contentsOfDirectory(atPath: partial.path)) ?? []).contains { $0.hasPrefix(".swarm-partial-") }
        }
        await slow.stop(signal: SIGKILL)
        await waitUntil("the broken transfer is reported") { leecher.output.contains("chunk 1 from") && leecher.output.contains("transfer") || leecher.output.contains("expected") }
        #expect(workspace.listedChunks("leecher").isEmpty, "the partial chunk is never listed")
        try workspace.startClient("other", folder: "other", trackerPort: port)
        await waitUntil("the chunk comes from the other holder", timeout: .seconds(60)) { workspace.listedChunks("leecher") == [1] }
        #expect(workspace.chunk(1, in: "leecher") == big)
        let names = try FileManager.default.contentsOfDirectory(atPath: partial.path)
        #expect(Set(names) == ["chunk_1", "local_chunks.txt"], "no partial file is left: \(names)")
        await workspace.tearDown()
    }

    /// Sends `request` on a new connection and reads to end of stream; `nil` if refused.
    static func exchange(_ request: String, port: Int) -> (String, Data?) {
        guard let socket = connectLoopback(port: port) else { return (request, nil) }
        defer { close(socket) }
        send(request, to: socket)
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(socket, &buffer, buffer.count)
            guard count > 0 else { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return (request, received)
    }

    @Test func twoHundredSimultaneousRequestsAreServedWithoutLeakingDescriptors() async throws {
        let workspace = try Workspace()
        let data = Workspace.content(of: 7, size: 100_000)
        try workspace.makeFolder("seeder", chunks: [1: data], total: 2)
        let transferPort = freePort()
        let seeder = try workspace.start(
            "seeder", Paths.client,
            ["-folder", workspace.root.appendingPathComponent("seeder").path, "-transfer_port", "\(transferPort)",
             "-name", "seeder", "-tracker", "127.0.0.1:\(freePort())", "-headless"])
        await waitUntil("the seeder listens") { isListening(port: transferPort) }
        let before = openDescriptors(of: seeder.process.processIdentifier)

        let requests = ["REQUEST_CHUNK,1"] + ["REQUEST_CHUNK,2", "REQUEST_CHUNK,0", "REQUEST_CHUNK,-1", "REQUEST_CHUNK,abc", "GARBAGE"]
        let results = await withTaskGroup(of: (String, Data?).self) { group in
            for number in 0..<200 {
                let request = number % 4 == 0 ? requests[1 + number / 4 % 5] : requests[0]
                group.addTask {
                    await onOwnThread { Self.exchange(request, port: transferPort) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (request, received) in results {
            if request == "REQUEST_CHUNK,1" {
                #expect(received == data, "the listed chunk is served whole")
            } else {
                #expect(received == Data(), "\(request) gets no data")
            }
        }
        let settled = await waitUntil("descriptors go back to where they were") {
            openDescriptors(of: seeder.process.processIdentifier).count <= before.count
        }
        if !settled {
            let after = openDescriptors(of: seeder.process.processIdentifier)
            Issue.record("before: \(before.values.sorted()); after: \(after.values.sorted())")
        }
        await workspace.tearDown()
    }
}

/// What each open socket and file of process `pid` refers to, by descriptor number: what serving
/// a chunk opens (a connection, the chunk's file). The event descriptors the runtimes make for
/// themselves (`timerfd`, `eventfd`, `eventpoll`) are left out: libdispatch makes a timer
/// descriptor the first time a clock is used, at a moment of its own, and one made during the
/// test is no leak.
func openDescriptors(of pid: Int32) -> [String: String] {
    let directory = "/proc/\(pid)/fd"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    let targets = names.map { ($0, (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)")) ?? "?") }
    return Dictionary(uniqueKeysWithValues: targets.filter { !$0.1.hasPrefix("anon_inode:") })
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

/// Many clients at one tracker at once. `swift test` runs 200 connections × 20 chunks; the full
/// size (1,000 × 100) is `SWARM_LOAD_CONNECTIONS=1000 SWARM_LOAD_CHUNKS=100 swift test --filter TrackerLoadTests`.
@Suite(.serialized)
struct TrackerLoadTests {
    static let environment = ProcessInfo.processInfo.environment
    static let connections = Int(environment["SWARM_LOAD_CONNECTIONS"] ?? "") ?? 200
    static let chunks = Int(environment["SWARM_LOAD_CHUNKS"] ?? "") ?? 20

    @Test func concurrentConnectionsRegisterThenQueryAndAreAllAnsweredCorrectly() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker(arguments: ["-check-interval", "3600"])
        // Every connection is open before any registers: they are all concurrent.
        var sockets: [Int32] = []
        for _ in 0..<Self.connections { sockets.append(try #require(connectLoopback(port: port))) }
        defer { for socket in sockets { close(socket) } }
        let digest = String(repeating: "e", count: 40)
        for (number, socket) in sockets.enumerated() {
            let lines = (1...Self.chunks).map { "LOCAL_CHUNKS,\($0),\(digest),127.0.0.1,\(10_000 + number)\n" }
            send(lines.joined(), to: socket)
        }
        let (measured, wrong) = await onOwnThread { [sockets] in
            var latencies: [Double] = []
            var wrong = 0
            for (number, socket) in sockets.enumerated() {
                let index = 1 + number % Self.chunks
                let started = ContinuousClock.now
                send("WHERE_CHUNK,\(index)\n", to: socket)
                var answer = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 65536)
                let deadline = started + .seconds(20)
                while !answer.contains(UInt8(ascii: "\n")) {
                    let count = read(socket, &buffer, buffer.count)
                    // A busy tracker may take longer than the socket's 2 s read timeout: keep waiting.
                    if count < 0 && errno == EAGAIN && ContinuousClock.now < deadline { continue }
                    guard count > 0 else { break }
                    answer += buffer[0..<count]
                }
                let elapsed = ContinuousClock.now - started
                latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
                let text = String(decoding: answer, as: UTF8.self)
                // This connection registered the chunk before asking (same connection, in order), so
                // its own holder must be listed; others may still be registering.
                if !text.hasPrefix("GET_CHUNK_FROM,\(index),\(digest),") || !text.contains(",127.0.0.1,\(10_000 + number)") { wrong += 1 }
            }
            return (latencies, wrong)
        }
        #expect(wrong == 0, "\(wrong) wrong answers")
        // Once everyone is in, every chunk lists every holder.
        await waitUntil("all registrations are in") {
            (ask(trackerPort: port, "WHERE_CHUNK,\(Self.chunks)")?.split(separator: ",").count ?? 0) == 3 + 2 * Self.connections
        }
        let latencies = measured.sorted()
        let p50 = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        print("tracker load: \(Self.connections) connections x \(Self.chunks) chunks; WHERE_CHUNK latency p50 \(String(format: "%.2f", p50)) ms, p99 \(String(format: "%.2f", p99)) ms")
        await workspace.tearDown()
    }
}
