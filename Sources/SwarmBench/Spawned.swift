import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `tracker` or `client` process the bench started, with what the kernel knows about it:
/// its peak memory and CPU time once it has exited, its CPU time (all of it, or one thread's)
/// while it runs.
///
/// Output goes to a file, or (for the terminal UI) to a pseudo-terminal the bench drains.
final class Spawned: @unchecked Sendable {
    /// The process id.
    let pid: pid_t
    /// Where its standard output and error go (the pty's transcript for a terminal).
    let outputPath: String
    private var exit: Exit?
    /// The highest `VmHWM` read so far, bytes.
    private var peakSeen = 0

    /// How a process ended.
    struct Exit {
        /// `waitpid`-style status.
        let status: Int32
        /// Peak resident memory, in bytes: the highest `VmHWM` read while it ran (see
        /// ``waitForExit(timeout:)``).
        let peakResidentBytes: Int
        /// CPU time of all its threads, user and system.
        let cpuTime: Duration
        /// Whether it exited normally with status 0.
        var succeeded: Bool { status & 0x7f == 0 && (status >> 8) & 0xff == 0 }
    }

    /// Starts `executable` (in the bench's working directory) with stdout and stderr to `output` (a new file), or on
    /// a fresh `columns` × `rows` pseudo-terminal when `terminal` is set.
    init(
        _ executable: URL,
        _ arguments: [String],
        output: URL,
        terminal: (columns: Int, rows: Int)? = nil
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var master: Int32 = -1
        if let terminal {
            let (descriptor, name) = try Self.openTerminal(columns: terminal.columns, rows: terminal.rows)
            master = descriptor
            posix_spawn_file_actions_addopen(&actions, 0, name, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = environment["TERM"] ?? "xterm-256color"
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        guard result == 0 else {
            if master >= 0 { close(master) }
            throw BenchError("cannot start \(executable.lastPathComponent): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        self.outputPath = output.path
        if master >= 0 { Self.drain(master, into: output.path) }
    }

    /// `ioctl`s that Swift does not import (function-like macros in <asm-generic/ioctls.h>).
    private static let lockTerminal: UInt = 0x4004_5431  // TIOCSPTLCK
    private static let terminalNumber: UInt = 0x8004_5430  // TIOCGPTN

    /// A new pseudo-terminal of the given size: its master side and the path of its other side.
    private static func openTerminal(columns: Int, rows: Int) throws -> (Int32, String) {
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        var size = winsize(ws_row: UInt16(rows), ws_col: UInt16(columns), ws_xpixel: 0, ws_ypixel: 0)
        guard master >= 0, ioctl(master, lockTerminal, &unlock) == 0, ioctl(master, terminalNumber, &number) == 0,
            ioctl(master, UInt(TIOCSWINSZ), &size) == 0
        else {
            let reason = String(cString: strerror(errno))
            if master >= 0 { close(master) }
            throw BenchError("cannot open a pseudo-terminal: \(reason)")
        }
        return (master, "/dev/pts/\(number)")
    }

    /// Copies everything the terminal shows into `path` until the terminal closes, so the
    /// process never blocks on a full terminal.
    private static func drain(_ master: Int32, into path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(master, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                _ = write(descriptor, buffer, count)
            }
            close(descriptor)
            close(master)
        }.start()
    }

    /// Everything it wrote so far.
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits for it to exit (at most `timeout`, zero to just look); `nil` if it is still running then.
    ///
    /// Its peak memory is read from `/proc` every 5 ms until it exits, not taken from
    /// `wait4`: a child of `posix_spawn` shares the bench's memory until it runs its program,
    /// and the kernel counts the bench's own peak into the child's `ru_maxrss` then (a bench
    /// that had held 60 MiB reported 60 MiB for a client that never used 35).
    func waitForExit(timeout: Duration) -> Exit? {
        if let exit { return exit }
        let deadline = ContinuousClock.now + timeout
        repeat {
            peakSeen = max(peakSeen, peakResident() ?? 0)
            var status: Int32 = 0
            var usage = rusage()
            let reaped = wait4(pid, &status, WNOHANG, &usage)
            if reaped == pid {
                exit = Exit(status: status, peakResidentBytes: peakSeen, cpuTime: usage.cpuTime)
                return exit
            }
            if reaped < 0 && errno != EINTR { return nil }
            usleep(5_000)
        } while ContinuousClock.now < deadline
        return nil
    }

    /// Whether an exit has already been seen (by ``waitForExit(timeout:)`` or ``stop()``).
    var hasBeenReaped: Bool { exit != nil }

    /// Asks it to stop (SIGTERM), then kills it if it has not stopped within 5 s.
    @discardableResult
    func stop() -> Exit? {
        if let exit { return exit }
        kill(pid, SIGTERM)
        if let exit = waitForExit(timeout: .seconds(5)) { return exit }
        kill(pid, SIGKILL)
        return waitForExit(timeout: .seconds(5))
    }

    /// Its peak resident memory so far (`VmHWM`, counted from the start of its program), bytes,
    /// if it is running.
    func peakResident() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kibibytes = line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kibibytes * 1024
    }

    /// Its resident memory now (`VmRSS`), bytes, if it is running.
    func resident() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kibibytes = line.split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap({ Int($0) })
        else { return nil }
        return kibibytes * 1024
    }

    /// CPU time used so far by all its threads, user and system (10 ms steps), if it is running.
    func cpuTime() -> Duration? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let afterName = stat.lastIndex(of: ")")
        else { return nil }
        // After the parenthesized name: state is field 3 of proc(5), utime 14, stime 15, in clock ticks.
        let fields = stat[stat.index(after: afterName)...].split(separator: " ")
        guard fields.count > 12, let user = Int64(fields[11]), let system = Int64(fields[12]) else { return nil }
        return .milliseconds((user + system) * 1000 / Int64(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// CPU time used so far by its thread named `name` (as set by the process), if there is one.
    func cpuTime(ofThreadNamed name: String) -> Duration? {
        let tasks = "/proc/\(pid)/task"
        for thread in (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? [] {
            let comm = (try? String(contentsOfFile: "\(tasks)/\(thread)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard comm == name,
                let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/schedstat", encoding: .utf8),
                let nanoseconds = stat.split(separator: " ").first.flatMap({ Int64($0) })
            else { continue }
            return .nanoseconds(nanoseconds)
        }
        return nil
    }
}

extension rusage {
    /// User and system time together.
    var cpuTime: Duration {
        .seconds(ru_utime.tv_sec + ru_stime.tv_sec) + .microseconds(ru_utime.tv_usec + ru_stime.tv_usec)
    }

    /// This process's usage so far, all threads.
    static var ofThisProcess: rusage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage
    }
}
