import Foundation
import Testing

@testable import SwarmCore

@Suite struct TreeRemovalTests {
    /// Nested folders, an empty one, enough files for every worker thread, and links to a file
    /// and a folder outside: all removed, and what the links pointed to left alone.
    @Test func removesEverythingUnderAFolderWithoutFollowingLinks() throws {
        let scratch = try ScratchFolder()
        let root = scratch.url.appendingPathComponent("tree").path
        let outside = scratch.url.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: "\(outside)/folder", withIntermediateDirectories: true)
        try FileSystem.writeWithoutSync(Array("keep".utf8), to: "\(outside)/file")
        try FileSystem.writeWithoutSync(Array("keep too".utf8), to: "\(outside)/folder/inner")
        for folder in ["a/b/c", "empty", "many"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(folder)", withIntermediateDirectories: true)
        }
        try FileSystem.writeWithoutSync([1], to: "\(root)/a/top")
        try FileSystem.writeWithoutSync([2], to: "\(root)/a/b/c/deep")
        for number in 0..<1_000 { try FileSystem.writeWithoutSync([], to: "\(root)/many/chunk_\(number)") }
        try FileManager.default.createSymbolicLink(atPath: "\(root)/a/link-to-file", withDestinationPath: "\(outside)/file")
        try FileManager.default.createSymbolicLink(atPath: "\(root)/link-to-folder", withDestinationPath: "\(outside)/folder")

        try FileSystem.removeTree(root)

        #expect(!FileManager.default.fileExists(atPath: root))
        #expect(try String(contentsOfFile: "\(outside)/file", encoding: .utf8) == "keep")
        #expect(try String(contentsOfFile: "\(outside)/folder/inner", encoding: .utf8) == "keep too")
    }

    @Test func aFileIsRemovedAndAMissingPathIsNoError() throws {
        let scratch = try ScratchFolder()
        let file = scratch.url.appendingPathComponent("file").path
        try FileSystem.writeWithoutSync([1, 2, 3], to: file)
        try FileSystem.removeTree(file)
        #expect(!FileManager.default.fileExists(atPath: file))
        try FileSystem.removeTree(file)
    }
}
