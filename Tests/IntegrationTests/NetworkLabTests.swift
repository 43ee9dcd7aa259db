import Foundation
import NetworkLab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test hosts themselves: their links delay what they should, and nothing of a lab is left
/// behind, also when its owner died without cleaning up.
@Suite(.enabled(if: NetworkLab.unavailability() == nil, Comment(rawValue: NetworkLab.unavailability() ?? "")))
struct NetworkLabTests {
    /// Milliseconds a TCP connection from the lab's first host to a closed port of its second
    /// takes to be refused: one round trip.
    static func refusalMilliseconds(_ lab: NetworkLab, ipv6: Bool = false) throws -> Double {
        let target = ipv6 ? lab.hosts[1].ipv6 : lab.hosts[1].ipv4!
        let script = """
            import socket, time
            best = None
            for _ in range(3):
                started = time.monotonic()
                try:
                    socket.create_connection(("\(target)", 9), timeout=5).close()
                except ConnectionRefusedError:
                    took = (time.monotonic() - started) * 1000
                    best = took if best is None else min(best, took)
            print(best)
            """
        let (program, arguments) = lab.hosts[0].command("/usr/bin/python3", ["-c", script])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return try #require(Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), "python printed \(text)")
    }

    /// A round trip over the relay takes twice its delay; over the bridge, far less.
    @Test func theRelayDelaysEachWayAndTheBridgeDoesNot() throws {
        let slow = try NetworkLab(hosts: 2, links: .relay(delay: .milliseconds(25), loss: 0))
        defer { slow.shutdown() }
        let relayed = try Self.refusalMilliseconds(slow)
        #expect(relayed >= 50 && relayed < 500, "a refused connection over the relay took \(relayed) ms")
        #expect(try Self.refusalMilliseconds(slow, ipv6: true) >= 50)
        let fast = try NetworkLab(hosts: 2)
        defer { fast.shutdown() }
        let bridged = try Self.refusalMilliseconds(fast)
        #expect(bridged < 25, "a refused connection over the bridge took \(bridged) ms")
    }

    /// Shut down, a lab leaves no namespace and no process; a lab whose owner died is removed
    /// by the next one made.
    @Test func nothingOfALabIsLeftBehind() async throws {
        func namespaces() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [] }
        let lab = try NetworkLab(hosts: 2)
        let (program, arguments) = lab.hosts[0].command("/bin/sleep", ["600"])
        let sleeper = try Process.run(URL(fileURLWithPath: program), arguments: arguments)
        // `ip netns exec` becomes `sleep` once it has entered the host.
        await waitUntil("sleep runs on the host") {
            (try? String(contentsOfFile: "/proc/\(sleeper.processIdentifier)/comm", encoding: .utf8)) == "sleep\n"
        }
        #expect(namespaces().contains(lab.hosts[0].namespace))
        lab.shutdown()
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal, "the process on the host was killed")
        #expect(!namespaces().contains(lab.hosts[0].namespace) && !namespaces().contains(lab.hosts[1].namespace))

        // A namespace named for a process that has exited, as a killed test run leaves it.
        let gone = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        gone.waitUntilExit()
        let leftover = "swarmlab-\(gone.processIdentifier)-1-h2"
        let add = try Process.run(URL(fileURLWithPath: NetworkLab.ip), arguments: ["netns", "add", leftover])
        add.waitUntilExit()
        #expect(namespaces().contains(leftover))
        let next = try NetworkLab(hosts: 1)
        next.shutdown()
        #expect(!namespaces().contains(leftover), "the dead owner's namespace was removed")
    }
}
