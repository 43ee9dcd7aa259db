import Foundation
import NetworkLab
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The test hosts themselves: their links delay what they should, and nothing of a lab is left
/// behind, also when its owner died without cleaning up.
@Suite(.serialized, .enabled(if: NetworkLab.unavailability() == nil, Comment(rawValue: NetworkLab.unavailability() ?? "")))
struct NetworkLabTests {
    /// Milliseconds a TCP connection from the lab's first host to a closed port of its second
    /// takes to be refused: one round trip. Run on a thread of its own: it waits for python.
    static func refusalMilliseconds(_ lab: NetworkLab, ipv6: Bool = false) async throws -> Double {
        try await onOwnThread { Result { try refusalMillisecondsBlocking(lab, ipv6: ipv6) } }.get()
    }

    private static func refusalMillisecondsBlocking(_ lab: NetworkLab, ipv6: Bool) throws -> Double {
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
        guard let milliseconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw LabProbeFailure(output: text) }
        return milliseconds
    }

    /// A round trip over the relay takes twice its delay; over the bridge, far less.
    @Test func theRelayDelaysEachWayAndTheBridgeDoesNot() async throws {
        try await NetworkNamespaceTests.withLab(hosts: 2, links: .relay(delay: .milliseconds(25), loss: 0)) { slow in
            let relayed = try await Self.refusalMilliseconds(slow)
            #expect(relayed >= 50 && relayed < 500, "a refused connection over the relay took \(relayed) ms")
            #expect(try await Self.refusalMilliseconds(slow, ipv6: true) >= 50)
        }
        try await NetworkNamespaceTests.withLab(hosts: 2) { fast in
            let bridged = try await Self.refusalMilliseconds(fast)
            #expect(bridged < 25, "a refused connection over the bridge took \(bridged) ms")
        }
    }

    /// Shut down, a lab leaves no namespace and no process; a lab whose owner died is removed
    /// by the next one made.
    @Test func nothingOfALabIsLeftBehind() async throws {
        let seen = try await onOwnThread { Result { try Self.labsLeaveNothing() } }.get()
        #expect(seen.hostWhileUp, "the host's namespace exists while the lab is up")
        #expect(seen.processKilled, "the process on the host was killed")
        #expect(seen.hostsGone, "no namespace of the lab is left")
        #expect(seen.leftoverWhileOwnerDead && seen.leftoverGone, "the dead owner's namespace was removed")
    }

    /// What ``nothingOfALabIsLeftBehind()`` looks at, gathered on a thread of its own: it waits
    /// for `ip` and for processes throughout.
    private static func labsLeaveNothing() throws -> (hostWhileUp: Bool, processKilled: Bool, hostsGone: Bool, leftoverWhileOwnerDead: Bool, leftoverGone: Bool) {
        func namespaces() -> [String] { (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [] }
        let lab = try NetworkLab(hosts: 2)
        let (program, arguments) = lab.hosts[0].command("/bin/sleep", ["600"])
        let sleeper = try Process.run(URL(fileURLWithPath: program), arguments: arguments)
        // `ip netns exec` becomes `sleep` once it has entered the host.
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? String(contentsOfFile: "/proc/\(sleeper.processIdentifier)/comm", encoding: .utf8)) != "sleep\n", ContinuousClock.now < deadline {
            usleep(10_000)
        }
        let hostWhileUp = namespaces().contains(lab.hosts[0].namespace)
        lab.shutdown()
        sleeper.waitUntilExit()
        let processKilled = sleeper.terminationReason == .uncaughtSignal
        let hostsGone = !namespaces().contains(lab.hosts[0].namespace) && !namespaces().contains(lab.hosts[1].namespace)

        // A namespace named for a process that has exited, as a killed test run leaves it.
        let gone = try Process.run(URL(fileURLWithPath: "/bin/true"), arguments: [])
        gone.waitUntilExit()
        let leftover = "swarmlab-\(gone.processIdentifier)-1-h2"
        let add = try Process.run(URL(fileURLWithPath: NetworkLab.ip), arguments: ["netns", "add", leftover])
        add.waitUntilExit()
        let leftoverWhileOwnerDead = namespaces().contains(leftover)
        let next = try NetworkLab(hosts: 1)
        next.shutdown()
        return (hostWhileUp, processKilled, hostsGone, leftoverWhileOwnerDead, !namespaces().contains(leftover))
    }
}

/// The probe on a lab host printed no number.
struct LabProbeFailure: Error, CustomStringConvertible {
    let output: String
    var description: String { "the probe printed \(output.debugDescription), not milliseconds" }
}
