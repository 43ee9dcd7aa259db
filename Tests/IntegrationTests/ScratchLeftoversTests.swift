import Foundation
import LoopbackSupport
import Testing

@Suite struct ScratchLeftoversTests {
    /// A folder whose owner is gone is cleared, and the processes still working in it stopped
    /// (SIGTERM, then SIGKILL for one that ignores it); a folder of a live run of this program
    /// (this test run) and one whose name holds no process id are left alone.
    @Test func foldersOfGoneOwnersAreClearedWithTheirProcesses() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("leftovers-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let finished = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        finished.waitUntilExit()
        let gone = scratch.appendingPathComponent("swarm-it-\(finished.processIdentifier)-run")
        let own = scratch.appendingPathComponent("swarm-it-\(getpid())-run")
        let unnamed = scratch.appendingPathComponent("swarm-it-notes")
        for folder in [gone, own, unnamed] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        // Two processes work there: one that stops on SIGTERM, one that ignores it. (Python
        // unblocks SIGTERM first: a child inherits the signals its spawning thread blocked.)
        let polite = try Self.python(in: gone, "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])")
        let stubborn = try Self.python(in: gone, "signal.signal(signal.SIGTERM, signal.SIG_IGN)")
        defer { for process in [polite, stubborn] where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        await waitUntil("both are set up") {
            [polite, stubborn].allSatisfy { FileManager.default.fileExists(atPath: gone.appendingPathComponent("\($0.processIdentifier).ready").path) }
        }

        let program = try #require(ScratchLeftovers.executableName(of: getpid()))
        let cleared = ScratchLeftovers.clear(in: scratch.path, prefix: "swarm-it-", program: program, grace: .seconds(1)) { folder in
            try? FileManager.default.removeItem(atPath: folder)
        }

        #expect(cleared.map(\.folder) == [gone.path])
        #expect(cleared.first?.owner == finished.processIdentifier)
        #expect(Set(cleared.first?.stopped ?? []) == [polite.processIdentifier, stubborn.processIdentifier])
        await waitUntil("both have stopped") { !polite.isRunning && !stubborn.isRunning }
        #expect(polite.terminationReason == .uncaughtSignal && polite.terminationStatus == SIGTERM, "stopped by SIGTERM")
        #expect(stubborn.terminationReason == .uncaughtSignal && stubborn.terminationStatus == SIGKILL, "then SIGKILL")
        #expect(!FileManager.default.fileExists(atPath: gone.path))
        #expect(FileManager.default.fileExists(atPath: own.path), "a live run's folder is kept")
        #expect(FileManager.default.fileExists(atPath: unnamed.path), "a folder without a process id is not ours to clear")
    }

    /// `python3` sleeping a minute in `folder` after running `setUp` (with `signal` imported)
    /// and creating `<its process id>.ready` there.
    static func python(in folder: URL, _ setUp: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, signal, time; \(setUp); open(f'{os.getpid()}.ready', 'w').close(); time.sleep(60)"]
        process.currentDirectoryURL = folder
        try process.run()
        return process
    }
}
