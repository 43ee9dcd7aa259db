import CNcurses
import Foundation
import SwarmCore
import Synchronization

/// Runs the live terminal UI over an engine: one UI thread owns curses, waits for keys with a
/// short timeout, drains the engine's events from a mutex-protected inbox, reduces them into the
/// ``UIState`` and redraws a few times a second when something changed.
///
/// The terminal is always given back: on `q`, on SIGINT/SIGTERM (turned into a quit by
/// ``requestQuit()``), and when the engine stops.
public final class TerminalUI: Sendable {
    /// The name of the thread that owns the terminal.
    public static let threadName = "swarm-ui"

    private enum Inbox: Sendable {
        case event(SwarmEvent)
        case status(String, isError: Bool)
        case engineStopped
    }

    private let inbox = Mutex<[Inbox]>([])
    private let quitRequested = Atomic<Bool>(false)

    public init() {}

    /// Asks the UI loop to end; callable from any thread (signal handlers included).
    public func requestQuit() { quitRequested.store(true, ordering: .relaxed) }

    /// Shows `events` until the user quits or the stream ends.
    ///
    /// - Parameters:
    ///   - initial: the state before any event (tracker address, say).
    ///   - send: carries a command to the engine; returns an error text to show, if any.
    public func run(
        events: AsyncStream<SwarmEvent>,
        initial: UIState,
        send: @escaping @Sendable (EngineCommand) async -> String?
    ) async {
        let pump = Task {
            for await event in events { inbox.withLock { $0.append(.event(event)) } }
            inbox.withLock { $0.append(.engineStopped) }
        }
        defer { pump.cancel() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                // Named for tools that show threads (top -H, /proc/<pid>/task/*/comm, swarm-bench).
                swarm_name_this_thread(Self.threadName)
                loop(initial: initial, send: send)
                done.resume()
            }
            thread.start()
        }
    }

    private func loop(initial: UIState, send: @escaping @Sendable (EngineCommand) async -> String?) {
        // Lines printed before the UI (standard output is written in the background) reach the
        // terminal before the UI takes it, not over its first row; they are there again on quit.
        LogFile.standardOutput.flush()
        let screen = NcursesScreen()
        defer { screen.end() }
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double { (clock.now - start).seconds }

        var state = initial
        var map = ChunkMapLayout(total: 1, width: 1, height: 1)
        var dirty = true
        var lastDraw = -1.0
        while !quitRequested.load(ordering: .relaxed) {
            if let key = screen.readKey() {
                dirty = true
                if let action = KeyMap.action(for: key, in: state.mode),
                    let command = state.apply(action, mapColumns: map.columns, chunksPerCell: map.chunksPerCell)
                {
                    if command == .quit { break }
                    Task { [self] in
                        if let error = await send(command) { inbox.withLock { $0.append(.status(error, isError: true)) } }
                    }
                }
            }
            let now = seconds()
            for item in inbox.withLock({ items in defer { items.removeAll() }; return items }) {
                dirty = true
                switch item {
                case .event(let event): state.reduce(event, at: now)
                case .status(let text, let isError): state.status = (text, isError)
                case .engineStopped: return
                }
            }
            // Redraw when something changed (at most 10 times a second), and twice a second anyway
            // so rates and countdowns move.
            guard (dirty && now - lastDraw >= 0.1) || now - lastDraw >= 0.5 else { continue }
            state.tick(at: now)
            let size = screen.size
            let frame = SwarmScreen.render(state, theme: screen.theme, width: size.width, height: size.height)
            screen.draw(frame.canvas)
            map = frame.map
            lastDraw = now
            dirty = false
        }
    }
}

extension Duration {
    fileprivate var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
