/// Slots holds results written by concurrent workers, each slot by one worker only (what makes
/// the unchecked Sendable safe); read after the workers are done.
struct Slots<T>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }
    func set(_ i: Int, _ value: T) { buffer[i] = value }
    func get(_ i: Int) -> T? { buffer[i] }
    func deallocate() {
        _ = buffer.deinitialize()
        buffer.deallocate()
    }
}
