import ArgumentParser
import Logging
import SwarmCore
import SwarmProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `client`: shares a chunk folder and fetches the chunks it lacks, with the seed's flags.
@main
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Shares the chunks in a folder and fetches the missing ones from other peers."
    )

    @Option(
        name: .customLong("folder", withSingleDash: true),
        help: "Chunk folder: chunk files plus local_chunks.txt (\"index,filename\" lines, then \"N,LASTCHUNK\")."
    )
    var folder: String

    @Option(name: .customLong("transfer_port", withSingleDash: true), help: "Port serving chunks to other peers (1-65535).")
    var transferPort: Int

    @Option(name: .customLong("name", withSingleDash: true), help: "This client's name, used in logs.")
    var name: String

    @Option(name: .customLong("tracker", withSingleDash: true), help: "Tracker address, HOST:PORT.")
    var tracker = "127.0.0.1:5100"

    @Option(name: .customLong("advertise", withSingleDash: true), help: "Address registered for our chunks.")
    var advertise = "127.0.0.1"

    @Flag(name: .customLong("exit-when-complete", withSingleDash: true), help: "Exit 0 once every chunk is held.")
    var exitWhenComplete = false

    @Flag(name: .customLong("headless", withSingleDash: true), help: "Print one line per event instead of the UI.")
    var headless = false

    @Option(name: .customLong("max-bad-chunks", withSingleDash: true), help: "Stop using a peer after this many bad chunks.")
    var maxBadChunks = 3

    func validate() throws {
        guard PeerAddress.isValidPort(transferPort) else {
            throw ValidationError("-transfer_port \(transferPort) is not a TCP port; use a number from 1 to 65535.")
        }
        guard PeerAddress(parsing: tracker) != nil else {
            throw ValidationError("-tracker \"\(tracker)\" is not HOST:PORT with a port from 1 to 65535.")
        }
        guard PeerAddress.isValidHost(advertise) else {
            throw ValidationError("-advertise \"\(advertise)\" is not an address or host name.")
        }
        guard !name.isEmpty, !name.contains(","), !name.contains("\n") else {
            throw ValidationError("-name must be non-empty, without commas or newlines.")
        }
        guard maxBadChunks >= 1 else { throw ValidationError("-max-bad-chunks must be at least 1.") }
    }

    func run() async throws {
        let store = try ChunkStore.open(folder: folder)
        let logFile = try LogFile()
        let logger = Logger(label: name) { SeedLogHandler(name: $0, file: logFile) }
        var configuration = Swarm.Configuration(
            name: name,
            tracker: PeerAddress(parsing: tracker)!,
            advertised: PeerAddress(host: advertise, port: transferPort)!
        )
        configuration.exitWhenComplete = exitWhenComplete
        configuration.maxBadChunks = maxBadChunks
        let swarm = Swarm(configuration: configuration, store: store, logger: logger)

        let printer = Task { [name] in
            for await event in swarm.events {
                guard let line = event.logLine else { continue }
                LogFile.standardOutput.append(line: "[\(name)] \(line)")
            }
        }
        let engine = Task { try await swarm.run() }
        let signals = SignalTrap(signals: [SIGINT, SIGTERM]) { _ in engine.cancel() }
        defer { signals.cancel() }
        do {
            try await engine.value
        } catch {
            await printer.value
            throw ClientFailure(reason: "\(error)", port: transferPort)
        }
        await printer.value
    }
}

/// The engine stopped on an error the user must fix.
struct ClientFailure: Error, CustomStringConvertible {
    let reason: String
    let port: Int

    var description: String {
        reason.contains("Address already in use")
            ? "transfer port \(port) is already in use; pick another -transfer_port" : reason
    }
}

