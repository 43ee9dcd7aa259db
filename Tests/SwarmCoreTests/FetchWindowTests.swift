import Testing

@testable import SwarmCore

/// More fetches at once on a long link, the user's counts on a short one or when set.
@Suite struct FetchWindowTests {
    @Test func aShortLinkKeepsTheCounts() {
        var window = FetchWindow(total: 8, perPeer: 8, adapts: true)
        #expect(window.allowedTotal == 8 && window.allowedPerPeer == 8, "nothing measured yet")
        window.record(.microseconds(60))
        window.record(.microseconds(400))
        #expect(window.allowedTotal == 8 && window.allowedPerPeer == 8, "loopback and a LAN")
    }

    /// One more per millisecond of the shortest recent handshake, at most 32.
    @Test func aLongLinkWidensTheWindow() {
        var window = FetchWindow(total: 8, perPeer: 4, adapts: true)
        window.record(.milliseconds(35))
        window.record(.milliseconds(20))
        window.record(.milliseconds(90))
        #expect(window.allowedTotal == 28)
        #expect(window.allowedPerPeer == 24)
        window.record(.milliseconds(60))
        for _ in 1...FetchWindow.samples { window.record(.milliseconds(61)) }
        #expect(window.allowedTotal == 32, "the 20 ms handshake is forgotten; 8 + 61 is capped")
        #expect(window.allowedPerPeer == 32, "never more from one holder than in all")
    }

    /// The write batches share out 8 MiB: 1 MiB each with 8 fetches, 256 KiB with 32.
    @Test func writeBatchesShrinkAsTheWindowWidens() {
        var window = FetchWindow(total: 8, perPeer: 8, adapts: true)
        #expect(window.writeBatch == 1 << 20)
        window.record(.milliseconds(40))
        #expect(window.allowedTotal == 32 && window.writeBatch == 256 << 10)
        #expect(FetchWindow(total: 2, perPeer: 2, adapts: false).writeBatch == 1 << 20, "never above 1 MiB")
        #expect(FetchWindow(total: 100, perPeer: 8, adapts: false).writeBatch == 256 << 10, "never below 256 KiB")
    }

    @Test func countsTheUserSetStay() {
        var window = FetchWindow(total: 3, perPeer: 2, adapts: false)
        window.record(.milliseconds(80))
        #expect(window.allowedTotal == 3 && window.allowedPerPeer == 2)
        var wide = FetchWindow(total: 64, perPeer: 64, adapts: true)
        wide.record(.milliseconds(80))
        #expect(wide.allowedTotal == 64 && wide.allowedPerPeer == 64, "a count above the widest is never lowered")
    }
}
