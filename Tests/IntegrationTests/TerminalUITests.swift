import Foundation
import Testing

/// A private tmux server in which the real `client` runs with its TUI, driven by keys and read
/// back from the screen, as a person would.
final class Tmux: @unchecked Sendable {
    let socket = "swarm-test-\(UUID().uuidString.prefix(8))"

    private let output = FileManager.default.temporaryDirectory.appendingPathComponent("swarm-tmux-\(UUID().uuidString).txt")

    init(width: Int, height: Int, directory: URL) throws {
        try run(["new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-c", directory.path, "env LANG=C.UTF-8 PS1='$ ' sh"])
    }

    /// Runs one tmux command through `system(3)`: Foundation's `Process` never sees the exit of a
    /// client whose server daemonized with its descriptors.
    @discardableResult
    func run(_ arguments: [String]) throws -> String {
        let quoted = (["tmux", "-L", socket] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = system(quoted.joined(separator: " ") + " </dev/null >'\(output.path)' 2>&1")
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TmuxError(command: arguments.joined(separator: " "), output: text) }
        return text
    }

    /// Types `keys` (tmux key names, e.g. "Enter").
    func send(_ keys: String...) throws { try run(["send-keys", "-t", "0"] + keys) }

    /// The visible screen, one string per row.
    func screen() -> [String] {
        ((try? run(["capture-pane", "-p", "-t", "0"])) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func resize(width: Int, height: Int) throws {
        try run(["resize-window", "-t", "0", "-x", "\(width)", "-y", "\(height)"])
    }

    func kill() {
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(at: output)
    }
}

struct TmuxError: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "tmux \(command) failed: \(output)" }
}

@Suite(.serialized)
struct TerminalUITests {
    /// `-chunks` prints a line before the UI starts; it must not land on the UI's first row,
    /// which names the client, its tracker and the address it registered under.
    @Test func linesPrintedBeforeTheUIStayOffItsHeader() async throws {
        let workspace = try Workspace()
        let (_, port) = try await workspace.startTracker()
        let tmux = try Tmux(width: 100, height: 30, directory: workspace.root)
        defer { tmux.kill() }
        let transferPort = freePort()
        try tmux.send("\(Paths.client.path) -folder made -chunks 8 -transfer_port \(transferPort) -name madeclient -tracker 127.0.0.1:\(port)", "Enter")
        await waitUntil("the UI is connected") { tmux.screen().joined().contains("connected as") }
        let header = tmux.screen().first ?? ""
        #expect(header.hasPrefix(" madeclient  tracker 127.0.0.1:\(port) connected as 127.0.0.1:\(transferPort)"), "first row: \(header)")
        try tmux.send("q")
        await waitUntil("the UI quits and the line printed before it shows") { tmux.screen().joined().contains("made") && tmux.screen().joined().contains("for 8 chunks") }
        await workspace.tearDown()
    }

    @Test func pausedClientFetchesOnRequestThenAllAfterResumeAndQuitsCleanly() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 8)
        let port = try await workspace.prepareSwarm(file, emptyFolder: "tui")
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        let tmux = try Tmux(width: 100, height: 30, directory: workspace.root)
        defer { tmux.kill() }

        let command = "\(Paths.client.path) -folder tui -transfer_port \(freePort()) -name tuiclient -tracker 127.0.0.1:\(port) -paused; echo TUI_EXIT=$?"
        try tmux.send(command, "Enter")
        await waitUntil("the UI shows the name and 0%") {
            let screen = tmux.screen().joined(separator: "\n")
            return screen.contains("tuiclient") && screen.contains("0/8 chunks 0%") && screen.contains("PAUSED")
        }

        try tmux.send("r")
        try tmux.send("3")
        try tmux.send("Enter")
        await waitUntil("chunk 3 lands") { workspace.listedChunks("tui") == [3] }
        await waitUntil("the UI shows 1/8") { tmux.screen().joined().contains("1/8 chunks 12%") }
        #expect(workspace.listedChunks("tui") == [3], "only chunk 3 was fetched while paused")
        #expect(workspace.chunk(3, in: "tui") == file[3])

        try tmux.send("p")
        await waitUntil("every chunk lands") { workspace.listedChunks("tui").count == 8 }
        await waitUntil("the UI shows 100%") { tmux.screen().joined().contains("8/8 chunks 100%") }
        SwarmExchangeTests.assertHolds(workspace, "tui", file)

        try tmux.resize(width: 60, height: 20)
        await waitUntil("the UI redraws at 60×20") {
            let screen = tmux.screen()
            return screen.count >= 20 && screen[19].contains("q quit") && screen[0].contains("tuiclient")
        }
        let resized = tmux.screen().prefix(20)
        #expect(resized.allSatisfy { $0.count <= 60 }, "no line beyond the window")
        #expect(resized[3].hasPrefix("┌─ Chunks") && resized[3].hasSuffix("┐"), "boxes redrawn to the new width: \(resized[3])")

        try tmux.resize(width: 30, height: 10)
        await waitUntil("a too-small window says so") { tmux.screen().joined().contains("window too small") }
        try tmux.resize(width: 100, height: 30)

        try tmux.send("q")
        await waitUntil("the client exits 0 and the shell is back") { tmux.screen().contains("TUI_EXIT=0") }
        #expect(!tmux.screen().joined().contains("Chunks"), "the terminal is restored")
        await workspace.tearDown()
    }

    /// A chunk asked for while nobody holds it stays asked for: fetched, still paused, once a
    /// peer that has it registers.
    @Test func requestedChunkNobodyHoldsYetIsFetchedOnceAPeerHasIt() async throws {
        let workspace = try Workspace()
        let file = SwarmExchangeTests.file(chunks: 4)
        let port = try await workspace.prepareSwarm(file, emptyFolder: "tui")
        let tmux = try Tmux(width: 100, height: 30, directory: workspace.root)
        defer { tmux.kill() }
        try tmux.send("\(Paths.client.path) -folder tui -transfer_port \(freePort()) -name waiter -tracker 127.0.0.1:\(port) -paused; echo TUI_EXIT=$?", "Enter")
        await waitUntil("the UI is up and paused") { tmux.screen().joined().contains("PAUSED") }

        try tmux.send("r", "2", "Enter")
        // Location look-ups are in the log only with detail on (d).
        try tmux.send("d")
        await waitUntil("detail is on") { tmux.screen().joined().contains("detail on") }
        await waitUntil("the tracker says nobody holds chunk 2") { tmux.screen().joined().contains("chunk 2: no holder yet") }
        try workspace.startClient("seeder", folder: "seeder", trackerPort: port)
        await waitUntil("chunk 2 lands once the seeder has registered it") { workspace.listedChunks("tui") == [2] }
        #expect(workspace.chunk(2, in: "tui") == file[2])
        await waitUntil("the UI shows 1/4") { tmux.screen().joined().contains("1/4 chunks 25%") }
        #expect(workspace.listedChunks("tui") == [2], "still paused: only the requested chunk")

        try tmux.send("q")
        await waitUntil("the client exits 0") { tmux.screen().contains("TUI_EXIT=0") }
        await workspace.tearDown()
    }

    @Test func sigtermRestoresTheTerminalAndExitsCleanly() async throws {
        let workspace = try Workspace()
        try workspace.makeFolder("tui", chunks: [1: Data("x".utf8)], total: 2)
        let tmux = try Tmux(width: 80, height: 24, directory: workspace.root)
        defer { tmux.kill() }
        let name = "sig\(freePort())"
        try tmux.send("\(Paths.client.path) -folder tui -transfer_port \(freePort()) -name \(name) -tracker 127.0.0.1:\(freePort()); echo TUI_EXIT=$?", "Enter")
        await waitUntil("the UI is up, retrying the absent tracker") { tmux.screen().joined().contains("retrying") }
        let pid = try #require(findPid(name: name))
        kill(pid, SIGTERM)
        await waitUntil("the shell is back after SIGTERM") { tmux.screen().contains("TUI_EXIT=0") }
        #expect(!tmux.screen().joined().contains("Chunks"))
        await workspace.tearDown()
    }

    /// The pid of our client started with `-name name`.
    func findPid(name: String) -> Int32? {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pgrep", "-f", "--", "-name \(name) -tracker"]
        process.standardOutput = output
        try? process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").first.flatMap { Int32($0) }
    }
}
