import Foundation

/// Credentials is what an `Authorization` header carries: HTTP Basic (opensearch-py's
/// `http_auth`, FluentBit's `HTTP_User`/`HTTP_Passwd`) or a bearer API key `NAME.SECRET`.
enum Credentials: Equatable {
    case basic(name: String, password: String)
    case key(name: String, secret: String)

    /// Credentials.parse reads an `Authorization` header value; nil when it is neither a
    /// well-formed Basic nor Bearer value.
    static func parse(_ header: String) -> Credentials? {
        guard let space = header.firstIndex(of: " ") else { return nil }
        let scheme = header[..<space].lowercased()
        let value = header[header.index(after: space)...].trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "basic":
            guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else { return nil }
            return .basic(name: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
        case "bearer":
            guard let dot = value.firstIndex(of: ".") else { return nil }
            return .key(name: String(value[..<dot]), secret: String(value[value.index(after: dot)...]))
        default:
            return nil
        }
    }

    /// Credentials.name is the user the credentials claim to be.
    var name: String {
        switch self {
        case .basic(let name, _), .key(let name, _): return name
        }
    }
}
