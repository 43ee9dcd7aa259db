/// Why a chunk folder was refused at start-up. Every description names the file, and the line
/// and the problem where there is one, so the user can fix it without reading code.
public enum ChunkFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The folder given with `-folder` does not exist.
    case folderMissing(path: String)
    /// The path exists but is not a folder.
    case notAFolder(path: String)
    /// The folder has no `local_chunks.txt`.
    case listMissing(path: String)
    /// The list or a chunk file could not be read.
    case unreadable(path: String, reason: String)
    /// A line of the list is wrong.
    case badLine(file: String, line: Int, text: String, reason: String)
    /// The list has no `N,LASTCHUNK` line.
    case noLastChunk(file: String)
    /// A listed chunk file is not in the folder.
    case chunkFileMissing(file: String, line: Int, name: String)
    /// Another client runs on the folder (process `by`, where known).
    case inUse(path: String, by: Int32?)

    public var description: String {
        switch self {
        case .folderMissing(let path):
            return "\(path): no such folder"
        case .notAFolder(let path):
            return "\(path): not a folder"
        case .listMissing(let path):
            return "\(path): missing; a chunk folder needs a local_chunks.txt listing \"index,filename\" lines and a last \"N,LASTCHUNK\" line"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read: \(reason)"
        case .badLine(let file, let line, let text, let reason):
            return "\(file):\(line): \(reason) (line: \"\(text.wireVisible)\")"
        case .noLastChunk(let file):
            return "\(file): no \"N,LASTCHUNK\" line giving the total number of chunks"
        case .chunkFileMissing(let file, let line, let name):
            return "\(file):\(line): listed chunk file \"\(name)\" does not exist in the folder"
        case .inUse(let path, let process):
            let holder = process.map { "another client (process \($0))" } ?? "another client"
            return "\(path): in use by \(holder); stop it first, or give this one another folder"
        }
    }
}
