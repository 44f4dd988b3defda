import Hummingbird
import LogStore

/// Turns engine errors into clear HTTP answers (the rest Hummingbird handles).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as StorageError {
            switch error {
            case .overloaded: throw HTTPError(.serviceUnavailable, message: error.description)
            case .closed: throw HTTPError(.serviceUnavailable, message: error.description)
            case .invalidLine: throw HTTPError(.badRequest, message: error.description)
            default: throw HTTPError(.internalServerError, message: error.description)
            }
        }
    }
}

extension Response {
    /// A JSON response from already-encoded bytes.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func text(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
