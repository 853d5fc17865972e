import FNNCore
import FNNExecution
import Foundation

/// Clock readings as plain seconds, for rates and reports.
extension Duration {
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
