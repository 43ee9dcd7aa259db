import SwarmCore
import SwarmTUI

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs one engine to the end, drawn by the terminal UI or printed line by line, and turns
/// SIGINT, SIGTERM and SIGHUP (its terminal closed) into a clean stop: the list is written, the
/// demo's folder removed, and the terminal given back before the process exits.
struct ClientSession {
    let swarm: any SwarmEngine
    let name: String
    let tracker: String
    let showsInterface: Bool
    /// The process's trap of the stop signals, if its owner made one already (the demo, which
    /// removes its folder after the session); otherwise the session traps them itself.
    var signals: SignalTrap?
    /// Run once every chunk is held, before the session goes on (or ends); the event it gives
    /// is shown like the engine's.
    var onComplete: (@Sendable () async -> SwarmEvent)?

    /// The engine's events, with ``onComplete`` run when the `complete` event passes.
    private var events: AsyncStream<SwarmEvent> {
        guard let onComplete else { return swarm.events }
        let (stream, continuation) = AsyncStream.makeStream(of: SwarmEvent.self)
        Task { [swarm] in
            var done = false
            for await event in swarm.events {
                continuation.yield(event)
                guard case .complete = event, !done else { continue }
                done = true
                continuation.yield(await onComplete())
            }
            continuation.finish()
        }
        return stream
    }

    /// Sends the stop signals to `handler`: through the owner's trap, or a trap of its own, which
    /// the caller cancels once the engine is done.
    private func trapStopSignals(_ handler: @escaping @Sendable (Int32) -> Void) -> SignalTrap? {
        if let signals {
            signals.setHandler(handler)
            return nil
        }
        return SignalTrap(signals: SignalTrap.stopSignals, handler: handler)
    }

    func run() async throws {
        let engine = Task { try await swarm.run() }
        if showsInterface {
            let ui = TerminalUI()
            let own = trapStopSignals { _ in ui.requestQuit() }
            defer { own?.cancel() }
            var initial = UIState()
            initial.trackerAddress = tracker
            initial.name = name
            await ui.run(events: events, initial: initial) { [swarm] command in
                await Self.perform(command, on: swarm)
            }
            engine.cancel()
            // Signals stay trapped until the engine has written what it owes the disk: the
            // shell of a closed terminal sends SIGHUP again to its jobs.
            _ = await engine.result
        } else {
            let printer = Task { [name, events] in
                for await event in events {
                    guard let line = event.logLine else { continue }
                    LogFile.standardOutput.append(line: "[\(name)] \(line)")
                }
            }
            let own = trapStopSignals { _ in engine.cancel() }
            defer { own?.cancel() }
            _ = await engine.result
            await printer.value
        }
        do {
            try await engine.value
        } catch is CancellationError {
        } catch let failure as ListenFailure {
            throw ClientFailure(reason: failure.message(portFlag: "-transfer_port"))
        } catch {
            throw ClientFailure(reason: "\(error)")
        }
    }

    /// Carries a UI command to the engine; returns the error to show, if any.
    static func perform(_ command: EngineCommand, on swarm: any SwarmEngine) async -> String? {
        switch command {
        case .pause: await swarm.pause()
        case .resume: await swarm.resume()
        case .request(let value):
            do { try await swarm.request(value) } catch { return error.description }
        case .setPriority(let file, let priority):
            do { try await swarm.setPriority(priority, ofFile: file) } catch { return error.description }
        case .sequential(let sequential):
            await swarm.setSequential(sequential)
        case .quit: break
        }
        return nil
    }
}

/// The engine stopped on an error the user must fix.
struct ClientFailure: Error, CustomStringConvertible {
    let reason: String

    var description: String { reason }
}
