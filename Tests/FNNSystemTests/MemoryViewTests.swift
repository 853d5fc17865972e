import FNNSystem
import Foundation
import Testing

@Suite struct MemoryViewTests {
    /// Slots start zeroed, sit whole cache lines apart (no two workers share a line), and the
    /// value view reaches the same memory as the object.
    @Test func perWorkerSlotsArePaddedAndShared() {
        let slots = PerWorkerSlots<Int>(count: 4)
        #expect(slots.slotBytes == cacheLineBytes)
        for w in 0..<4 {
            #expect(slots[w] == 0)
            #expect(Int(bitPattern: slots.slot(w)) % cacheLineBytes == 0)
        }
        #expect(Int(bitPattern: slots.slot(1)) - Int(bitPattern: slots.slot(0)) == cacheLineBytes)
        let view = slots.view
        view[2] = 42
        #expect(slots[2] == 42 && slots[1] == 0 && slots[3] == 0)
        let wide = PerWorkerSlots<(Int, Int, Int, Int, Int, Int, Int, Int, Int)>(count: 2)
        #expect(wide.slotBytes == 2 * cacheLineBytes)
    }

    /// A buffer's view reads and writes the buffer itself.
    @Test func bufferViewIsTheBuffersMemory() {
        let buffer = AlignedBuffer<Float>([1, 2, 3, 4])
        let view = buffer.view
        #expect(view.count == 4 && view[3] == 4)
        view[1] = 9
        #expect(buffer[1] == 9)
        view.pointer(at: 2, length: 2).pointee = 7
        #expect(buffer.array == [1, 9, 7, 4])
    }
}
