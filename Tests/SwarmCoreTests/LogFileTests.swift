import Dispatch
import Foundation
import Testing

@testable import SwarmCore

@Suite struct LogFileTests {
    @Test func linesFromManyThreadsArriveWholeAndInOrderPerThread() throws {
        let scratch = try ScratchFolder()
        let path = scratch.url.appendingPathComponent("logger.log").path
        let log = try LogFile(path: path)
        // About 1.3 MB: many batches are written while lines keep coming.
        let threads = 4
        let lines = 5_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for number in 0..<lines { log.append(line: "client\(thread),WHERE_CHUNK,\(number),\(String(repeating: "x", count: 40))") }
        }
        log.flush()
        let written = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(written.count == threads * lines)
        for thread in 0..<threads {
            let own = written.filter { $0.hasPrefix("client\(thread),") }
            let expected = (0..<lines).map { "client\(thread),WHERE_CHUNK,\($0),\(String(repeating: "x", count: 40))" }
            #expect(own.map(String.init) == expected, "thread \(thread): every line whole, in order")
        }
    }

    /// Nothing flushes by hand here: each line must reach the file by itself, the second one too
    /// (it comes after the first write, so it needs a write of its own).
    @Test func linesReachTheFileWithoutAFlush() async throws {
        let scratch = try ScratchFolder()
        let path = scratch.url.appendingPathComponent("logger.log").path
        let log = try LogFile(path: path)
        for line in ["P2PTracker,first", "P2PTracker,second"] {
            log.append(line: line)
            let deadline = ContinuousClock.now + .seconds(10)
            while !((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(line + "\n"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "P2PTracker,first\nP2PTracker,second\n")
    }
}
