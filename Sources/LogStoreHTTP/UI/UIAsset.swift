import Crypto
import Foundation
import LogStore

/// UIAsset is one file of the web viewer, compiled into the binary (`PackageResources`, made by
/// SwiftPM's `embedInCode` from `UI/assets/`): its bytes, their gzip form, type and entity tag.
struct UIAsset: Sendable {
    let name: String
    let contentType: String
    let bytes: [UInt8]
    /// The bytes gzip-compressed (level 9), made once when the table is first used.
    let gzipped: [UInt8]
    /// A strong entity tag: the first 16 bytes of the SHA-256 of `bytes`, quoted.
    let etag: String

    init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
        contentType = Self.contentType(of: name)
        gzipped = Compression.gzip(bytes, level: 9)
        etag = "\"" + SHA256.hash(data: bytes).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }

    /// UIAsset.contentType is the media type served for a file name's extension.
    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "json": return "application/json; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    /// UIAsset.embedded is every file of the viewer by name. A new file in `UI/assets/` must be
    /// added here (SwiftPM names its bytes after the file, dots and dashes become `_`).
    static let embedded: [String: UIAsset] = {
        let files: [(String, [UInt8])] = [
            ("index.html", PackageResources.index_html),
            ("style.css", PackageResources.style_css),
            ("favicon.svg", PackageResources.favicon_svg),
            ("app.js", PackageResources.app_js),
            ("api.js", PackageResources.api_js),
            ("util.js", PackageResources.util_js),
            ("ansi.js", PackageResources.ansi_js),
            ("query.js", PackageResources.query_js),
            ("workflows.js", PackageResources.workflows_js),
            ("workflow.js", PackageResources.workflow_js),
            ("logview.js", PackageResources.logview_js),
            ("search.js", PackageResources.search_js),
            ("histogram.js", PackageResources.histogram_js),
            ("login.js", PackageResources.login_js),
        ]
        return Dictionary(uniqueKeysWithValues: files.map { ($0.0, UIAsset(name: $0.0, bytes: $0.1)) })
    }()

    /// UIAsset.named returns the file `name`: from `directory` when one is given (read at every
    /// request, for editing the viewer without rebuilding; only names of the embedded table),
    /// else the embedded copy.
    static func named(_ name: String, directory: String?) -> UIAsset? {
        guard let embedded = embedded[name] else { return nil }
        guard let directory, let data = FileManager.default.contents(atPath: directory + "/" + name) else { return embedded }
        return UIAsset(name: name, bytes: Array(data))
    }
}
