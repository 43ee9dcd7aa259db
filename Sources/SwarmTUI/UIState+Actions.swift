import SwarmCore
import SwarmProtocol

/// What the user did, folded into the state, and the engine command it makes.
extension UIState {
    /// Folds in what the user did; returns what the engine must do, if anything.
    ///
    /// - Parameter mapColumns: map cells per row, so up/down move by a whole row.
    /// - Parameter chunksPerCell: chunks each map cell stands for.
    public mutating func apply(_ action: UIAction, mapColumns: Int = 1, chunksPerCell: Int = 1) -> EngineCommand? {
        switch action {
        case .quit:
            return .quit
        case .togglePause:
            status = (paused ? "resuming" : "pausing: serving goes on", false)
            return paused ? .resume : .pause
        case .startRequest:
            mode = .enteringIndex("")
            status = nil
        case .typeDigit(let digit):
            if case .enteringIndex(let text) = mode, text.count < 10 { mode = .enteringIndex(text + String(digit)) }
        case .eraseDigit:
            if case .enteringIndex(let text) = mode { mode = .enteringIndex(String(text.dropLast())) }
        case .submitRequest:
            guard case .enteringIndex(let text) = mode else { return nil }
            mode = .normal
            return requestChunk(Int(text), typed: text)
        case .cancel:
            mode = .normal
            status = nil
        case .toggleHelp:
            mode = mode == .help ? .normal : .help
        case .moveCursor(_, let dy) where focus == .files:
            fileCursor = min(max(0, fileCursor + dy), max(0, files.count - 1))
        case .moveCursor(let dx, let dy):
            let step = max(1, chunksPerCell)
            let target = cursor + dx * step + dy * max(1, mapColumns) * step
            cursor = min(max(target, 1), max(total, 1))
        case .fetchCursor:
            return requestChunk(cursor, typed: String(cursor))
        case .scroll(let lines):
            switch focus {
            case .log: logScroll = min(max(0, logScroll + lines), max(0, shownLog.count - 1))
            case .peers: peerScroll = min(max(0, peerScroll + lines), max(0, peers.count - 1))
            case .files: fileCursor = min(max(0, fileCursor - lines), max(0, files.count - 1))
            }
        case .switchFocus:
            // peers → files (a torrent's) → log → peers
            switch focus {
            case .peers: focus = files.isEmpty ? .log : .files
            case .files: focus = .log
            case .log: focus = .peers
            }
            if focus != .log { listPane = focus }
        case .toggleSkip, .raisePriority:
            guard focus == .files, files.indices.contains(fileCursor) else {
                status = (files.isEmpty ? "no files: a chunk folder is one file" : "Tab to the files pane first", true)
                return nil
            }
            let current = files[fileCursor].priority
            let next: FilePriority = action == .toggleSkip ? (current == .skip ? .normal : .skip) : (current == .high ? .normal : .high)
            files[fileCursor].priority = next
            status = ("\(files[fileCursor].path): \(next == .skip ? "skipped" : next == .high ? "high priority" : "normal priority")", false)
            return .setPriority(file: fileCursor, next)
        case .toggleSequential:
            sequential.toggle()
            status = (sequential ? "fetching in order (for playing while it downloads)" : "fetching the rarest first", false)
            return .sequential(sequential)
        case .toggleDetail:
            showsDetail.toggle()
            logScroll = 0
            status = (showsDetail ? "detail on: the log shows location look-ups" : "detail off: location look-ups hidden", false)
        }
        return nil
    }

    mutating func requestChunk(_ value: Int?, typed: String) -> EngineCommand? {
        guard let value, (1...max(total, 1)).contains(value), total > 0 else {
            status = (typed.isEmpty ? "no chunk number typed" : "no chunk \(typed): chunks are 1–\(total)", true)
            return nil
        }
        if chunks[value - 1] == .held {
            status = ("chunk \(value) is already here", true)
            return nil
        }
        status = ("fetching chunk \(value)\(paused ? " (while paused)" : "")", false)
        return .request(value)
    }
}

/// What the user asked for, before it is applied to the state.
public enum UIAction: Sendable, Equatable {
    case quit
    case togglePause
    case startRequest
    case typeDigit(Character)
    case eraseDigit
    case submitRequest
    case cancel
    case toggleHelp
    case moveCursor(dx: Int, dy: Int)
    case fetchCursor
    case scroll(Int)
    case switchFocus
    /// Show or hide location look-ups in the log.
    case toggleDetail
    /// Skip or fetch the file under the files pane's cursor.
    case toggleSkip
    /// Raise the file under the cursor to high priority, or back to normal.
    case raisePriority
    /// Fetch in order, or rarest first.
    case toggleSequential
}

/// What the engine must do because of a key.
public enum EngineCommand: Sendable, Equatable {
    case pause, resume, quit
    case request(Int)
    case setPriority(file: Int, FilePriority)
    case sequential(Bool)
}
