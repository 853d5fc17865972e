/// How the one `--seed` becomes the seeds of the run's independent random streams. Each stream
/// gets its own derivation so that, say, a different split never changes the initial tables; the
/// constants are arbitrary but fixed forever: changing one changes every trained model.
public enum SeedDerivation {
    /// The FNN's model seed in every command: the FM's plus one, so an experiment's FM and FNN
    /// never start from the same draws while the two FNNs share their MLP initialisation.
    public static func fnnModel(_ seed: UInt64) -> UInt64 { seed &+ 1 }

    /// The tables' and layers' initial values, from a model seed.
    public static func initialization(_ seed: UInt64) -> UInt64 { seed ^ 0x1A17_1A17 }

    /// The keyed permutation that assigns rows to train, validation and test.
    public static func split(_ seed: UInt64) -> UInt64 { seed ^ 0x5EED_5B17 }

    /// The shuffle of `epoch` (the golden-ratio increment keeps consecutive epochs' seeds apart).
    public static func epochShuffle(_ seed: UInt64, epoch: Int) -> UInt64 { seed &+ 0x9E37_79B9 &* UInt64(epoch) }

    /// The shuffle of part `part` of the training rows in `epoch` (the parts order: one
    /// generator per part, so a rank can order its own parts without the others').
    public static func partShuffle(_ seed: UInt64, epoch: Int, part: Int) -> UInt64 {
        epochShuffle(seed, epoch: epoch) ^ SplitMix64.mix(0x9A27_0000 &+ UInt64(part))
    }
}
