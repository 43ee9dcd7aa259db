import Dispatch
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileSystem {
    /// Removes `path` and everything under it, unlinking files from `threads` threads at once;
    /// symbolic links are removed, never followed. Blocking. Goes on past a file it cannot
    /// remove and throws the first such failure at the end; a `path` that does not exist is
    /// not an error.
    ///
    /// A folder of many small files (the demo's, with 100,000 chunks, holds up to 300,000) goes
    /// faster this way where each unlink also waits for the disk: on a 2-core machine's ext4
    /// mounted with `discard`, the demo's folder after a minute of 100,000 chunks (130,000 to
    /// 210,000 files) took 10 to 14 s with one thread (`rm -rf`, `FileManager`) and 3.5 to 5 s
    /// this way.
    public static func removeTree(_ path: String, threads: Int = 8) throws(FileSystemError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw FileSystemError(path: path, reason: lastError)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            guard unlink(path) == 0 else { throw FileSystemError(path: path, reason: lastError) }
            return
        }
        var files: [String] = []
        var folders: [String] = []
        collect(path, files: &files, folders: &folders)
        let failure = NIOLockedValueBox<FileSystemError?>(nil)
        @Sendable func note(_ path: String) {
            let error = FileSystemError(path: path, reason: lastError)
            failure.withLockedValue { $0 = $0 ?? error }
        }
        let workers = max(1, min(threads, files.count / 64))
        let done = DispatchGroup()
        for worker in 0..<workers {
            let share = stride(from: worker, to: files.count, by: workers).map { files[$0] }
            // A serial queue of its own per worker: each gets a thread, also while others wait.
            DispatchQueue(label: "swarm.remove-tree.\(worker)").async(group: done) {
                for file in share where unlink(file) != 0 && errno != ENOENT { note(file) }
            }
        }
        done.wait()
        // Deepest first: each folder is empty by the time it is removed.
        for folder in folders.reversed() where rmdir(folder) != 0 && errno != ENOENT { note(folder) }
        if let first = failure.withLockedValue({ $0 }) { throw first }
    }

    /// Every file (anything but a folder) under `folder`, and `folder` with every folder under
    /// it, parents before children.
    private static func collect(_ folder: String, files: inout [String], folders: inout [String]) {
        folders.append(folder)
        forEachEntry(of: folder) { name, type in
            let child = "\(folder)/\(name)"
            var isFolder = type == UInt8(DT_DIR)
            if type == UInt8(DT_UNKNOWN) {
                var info = stat()
                isFolder = lstat(child, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            }
            if isFolder {
                collect(child, files: &files, folders: &folders)
            } else {
                files.append(child)
            }
        }
    }
}
