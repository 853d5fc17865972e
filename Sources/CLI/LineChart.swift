import Foundation

/// A small line chart rendered straight to SVG (axes, ticks, grid, legend), so plots need no
/// dependency.
struct LineChart {
    struct Series {
        var name: String
        var points: [(Double, Double)]
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var logX = false
    /// Scale y to the data's range instead of starting at zero.
    var fitY = false
    var width = 720.0
    var height = 440.0

    init(title: String, xLabel: String, yLabel: String, series: [Series], logX: Bool = false, fitY: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logX = logX
        self.fitY = fitY
    }

    /// Several charts in one SVG, left to right, under a common title.
    static func sideBySide(_ charts: [LineChart], title: String) -> String {
        let width = charts.reduce(0) { $0 + $1.width }, height = (charts.map(\.height).max() ?? 0) + 30
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"\(width / 2)\" y=\"20\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\(escapeXML(title))</text>\n"
        var x = 0.0
        for chart in charts {
            out += chart.svg().replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ", with: "<svg x=\"\(x)\" y=\"30\" ")
            x += chart.width
        }
        return out + "</svg>\n"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    func svg() -> String {
        let left = 70.0, right = 160.0, top = 40.0, bottom = 55.0
        let plotW = width - left - right, plotH = height - top - bottom
        // Non-finite values (an AUC of one-class data, a diverged loss) are left out of the lines.
        let series = self.series.map { Series(name: $0.name, points: $0.points.filter { $0.0.isFinite && $0.1.isFinite }) }
        let xs = series.flatMap { $0.points.map(\.0) }, ys = series.flatMap { $0.points.map(\.1) }
        func tx(_ x: Double) -> Double { logX ? Foundation.log2(max(x, 1e-12)) : x }
        var xMin = tx(xs.min() ?? 0), xMax = tx(xs.max() ?? 1)
        if xMax == xMin { xMin -= 1; xMax += 1 }
        let yLow = ys.min() ?? 0, yHigh = ys.max() ?? 1
        let yTicks = fitY ? niceTicks(yLow - 0.05 * max(yHigh - yLow, 1e-3), yHigh + 0.05 * max(yHigh - yLow, 1e-3))
            : niceTicks(min(0, yLow), yHigh * 1.05)
        let yMin = yTicks.first ?? 0, yMax = yTicks.count > 1 ? yTicks.last! : yMin + 1
        func px(_ x: Double) -> Double { left + (tx(x) - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - yMin) / (yMax - yMin) * plotH }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left + plotW / 2)" y="22" text-anchor="middle" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        for y in yTicks {
            out += "<line x1=\"\(left)\" y1=\(q(py(y))) x2=\"\(left + plotW)\" y2=\(q(py(y))) stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(left - 8)\" y=\(q(py(y) + 4)) text-anchor=\"end\">\(format(y))</text>\n"
        }
        let xTickValues = logX ? Array(Set(xs)).sorted() : niceTicks(xs.min() ?? 0, xs.max() ?? 1)
        for x in xTickValues {
            out += "<line x1=\(q(px(x))) y1=\"\(top)\" x2=\(q(px(x))) y2=\"\(top + plotH)\" stroke=\"#f0f0f0\"/>\n"
            out += "<text x=\(q(px(x))) y=\"\(top + plotH + 18)\" text-anchor=\"middle\">\(format(x))</text>\n"
        }
        out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotW)\" height=\"\(plotH)\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(18 \(top + plotH / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let path = s.points.map { "\(String(format: "%.1f", px($0.0))),\(String(format: "%.1f", py($0.1)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            for p in s.points {
                out += "<circle cx=\(q(px(p.0))) cy=\(q(py(p.1))) r=\"3\" fill=\"\(color)\"/>\n"
            }
            let ly = top + 14 + Double(i) * 20
            out += "<line x1=\"\(left + plotW + 16)\" y1=\(q(ly - 4)) x2=\"\(left + plotW + 40)\" y2=\(q(ly - 4)) stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(left + plotW + 46)\" y=\(q(ly))>\(escape(s.name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    private func q(_ v: Double) -> String { "\"\(String(format: "%.1f", v))\"" }

    private func escape(_ s: String) -> String { escapeXML(s) }

    private func format(_ v: Double) -> String {
        if abs(v) < 1e-12 { return "0" }
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        if abs(v) >= 0.01 { return String(format: "%.3g", v) }
        return String(format: "%.2e", v)
    }

    /// About five round tick values covering [lo, hi].
    private func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / 5
        let magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let start = Foundation.floor(lo / step) * step
        var ticks: [Double] = []
        var t = start
        while t < hi + step * 0.999 { ticks.append(t); t += step }
        return ticks
    }
}

func escapeXML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;")
}
