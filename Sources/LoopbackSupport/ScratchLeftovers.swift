import Foundation

/// What a test run or a benchmark that died without cleaning up (a crash, SIGKILL, an
/// interrupted `swift test`) left behind: its scratch folders, named `<prefix><pid>…`, and the
/// trackers and clients it started, every one of which works in its owner's scratch folder.
/// Left alone, those processes go on serving and fetching, holding ports and CPU, for as long
/// as the machine runs.
public enum ScratchLeftovers {
    /// A scratch folder whose owner is gone, cleared.
    public struct Cleared: Equatable, Sendable {
        /// The folder.
        public let folder: String
        /// Its owner's process id, from the folder's name.
        public let owner: Int32
        /// The processes that were still working in it, stopped.
        public let stopped: [Int32]
    }

    /// Clears every folder in `directory` named `prefix` and a process id (alone, or followed by
    /// `-` and anything) whose process is no longer a live instance of `program` (the
    /// executable's file name: a concurrent run of the same program still uses its folders):
    /// stops the processes working inside it (SIGTERM, then SIGKILL after `grace`), then calls
    /// `remove` with it. Linux (`/proc`); nothing elsewhere.
    public static func clear(
        in directory: String,
        prefix: String,
        program: String,
        grace: Duration = .seconds(10),
        remove: (String) -> Void
    ) -> [Cleared] {
        #if !os(Linux)
        // Without /proc, a live owner cannot be told from a gone one.
        return []
        #else
        let gone: [(folder: String, owner: Int32)] = entries(of: directory).compactMap { name in
            guard name.hasPrefix(prefix), let owner = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }),
                executableName(of: owner) != program
            else { return nil }
            return ("\(directory)/\(name)", owner)
        }
        guard !gone.isEmpty else { return [] }
        // Every process's working directory, read once for all the folders.
        let workingDirectories = entries(of: "/proc").compactMap { entry in
            Int32(entry).flatMap { pid in link("/proc/\(pid)/cwd").map { (pid: pid, directory: $0) } }
        }
        var cleared: [Cleared] = []
        for (folder, owner) in gone {
            let stray = workingDirectories.filter { Self.isInside($0.directory, folder) }.map(\.pid)
            stop(stray, grace: grace)
            remove(folder)
            cleared.append(Cleared(folder: folder, owner: owner, stopped: stray))
        }
        return cleared
        #endif
    }

    /// SIGTERM first, so that each can clean up after itself (a demo removes its own temporary
    /// folder, which takes seconds for a big one); SIGKILL for any still running `grace` later.
    private static func stop(_ processes: [Int32], grace: Duration) {
        for pid in processes { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        var left = processes
        while !left.isEmpty, ContinuousClock.now < deadline {
            usleep(20_000)
            // A process that has exited (a zombie until reaped) has no working directory.
            left = left.filter { link("/proc/\($0)/cwd") != nil }
        }
        for pid in left { kill(pid, SIGKILL) }
    }

    /// The file name of the executable process `pid` runs; `nil` if there is no such process.
    public static func executableName(of pid: Int32) -> String? {
        guard let path = link("/proc/\(pid)/exe") else { return nil }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasSuffix(" (deleted)") ? String(name.dropLast(" (deleted)".count)) : name
    }

    /// Whether a working directory as `/proc` shows it is `folder` or inside it (removed or not).
    private static func isInside(_ directory: String, _ folder: String) -> Bool {
        directory == folder || directory.hasPrefix(folder + "/") || directory.hasPrefix(folder + " (deleted)")
    }

    private static func link(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    private static func entries(of directory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}
