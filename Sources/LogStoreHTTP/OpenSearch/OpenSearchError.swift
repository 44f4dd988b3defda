import Hummingbird
import LogStore

/// An error answered in OpenSearch's shape, which its clients (and FluentBit's logs) understand:
/// `{"error":{"root_cause":[{"type":T,"reason":R}],"type":T,"reason":R},"status":N}`.
public struct OpenSearchError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// OpenSearch's error type, e.g. `parse_exception`, `illegal_argument_exception`.
    public var type: String
    /// What is wrong, naming the parameter, line or limit.
    public var reason: String
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, type: String, reason: String) {
        self.status = status
        self.type = type
        // FluentBit's http output gives up on answers over 4 KB: keep the reason short.
        self.reason = reason.count > 1500 ? String(reason.prefix(1500)) + "…" : reason
    }

    public var description: String { "\(status.code) \(type): \(reason)" }

    public static func badRequest(_ reason: String, type: String = "illegal_argument_exception") -> OpenSearchError {
        OpenSearchError(.badRequest, type: type, reason: reason)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var json = JSONText(capacity: 256 + reason.utf8.count * 2)
        json.raw("{\"error\":{\"root_cause\":[{\"type\":")
        json.string(type)
        json.raw(",\"reason\":")
        json.string(reason)
        json.raw("}],\"type\":")
        json.string(type)
        json.raw(",\"reason\":")
        json.string(reason)
        json.raw("},\"status\":")
        json.number(status.code)
        json.raw("}")
        var fields = headers
        fields[.contentType] = "application/json; charset=UTF-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
