/// A dense, row-major float32 tensor with value semantics.
///
/// Deliberately minimal: the model code works on explicit shapes and calls the kernels in
/// `Kernels.swift`; there is no autograd and no broadcasting machinery.
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension, outermost first.
    public var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float]

    /// Wraps `scalars` with `shape`. The caller guarantees the counts agree (checked in debug builds).
    public init(shape: [Int], scalars: [Float]) {
        assert(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.scalars = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// Rows of a tensor seen as a matrix `[shape[0], rest]`.
    var rows: Int { shape.first ?? 1 }

    /// Columns of a tensor seen as a matrix `[shape[0], rest]`.
    var columns: Int { shape.count <= 1 ? (shape.first ?? 1) : shape.dropFirst().reduce(1, *) }

    /// The row `i` of a 2-D tensor.
    func row(_ i: Int) -> ArraySlice<Float> {
        let c = columns
        return scalars[(i * c)..<((i + 1) * c)]
    }
}
