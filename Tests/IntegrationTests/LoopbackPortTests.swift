import Testing

@testable import LoopbackSupport

@Suite struct LoopbackPortTests {
    @Test func portsAreFreeDistinctAndBelowTheEphemeralRange() {
        let ephemeral = LoopbackPort.ephemeralRangeStart()
        #expect((1_024...65_535).contains(ephemeral))
        let ports = (0..<50).map { _ in LoopbackPort.unused() }
        #expect(Set(ports).count == ports.count, "never the same port twice")
        for port in ports {
            #expect((10_000..<ephemeral).contains(port), "\(port) is below \(ephemeral)")
            #expect(LoopbackPort.isFree(port))
        }
    }
}
