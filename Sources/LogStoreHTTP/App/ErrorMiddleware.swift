import Hummingbird
import LogStore
import LogStoreIngest
import NIOCore

/// Turns engine, parser and framework errors into OpenSearch-shaped answers with the right
/// status; a full disk under `directory` (the data directory) is a 429 naming it (``DiskFull``).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The data directory, named in disk-full answers.
    let directory: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OpenSearchError {
            throw error
        } catch let error as StorageError {
            switch error {
            case .overloaded, .closed:
                throw OpenSearchError(.serviceUnavailable, type: "es_rejected_execution_exception", reason: error.description)
            case .invalidLine:
                throw OpenSearchError.badRequest(error.description)
            case .queryTimeout, .queryCancelled:
                // 400, not 5xx: a client retries 502/503/504 (opensearch-py does, 3 times), which
                // would run the same too-expensive query again.
                throw OpenSearchError.badRequest(error.description, type: "search_timeout_exception")
            case .answerTooLarge:
                // Like OpenSearch's `index.max_result_window`: the request asks for too much.
                throw OpenSearchError.badRequest(error.description, type: "illegal_argument_exception")
            default:
                throw OpenSearchError(.internalServerError, type: "storage_exception", reason: error.description)
            }
        } catch let error as IngestError {
            switch error {
            case .tooLarge:
                throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: error.description)
            case .unsupportedEncoding:
                throw OpenSearchError(.unsupportedMediaType, type: "illegal_argument_exception", reason: error.description)
            default:
                throw OpenSearchError.badRequest(error.description, type: "parse_exception")
            }
        } catch let error as HTTPError {
            if error.status == .notFound {
                throw OpenSearchError(.notFound, type: "resource_not_found_exception",
                    reason: "no handler found for \(request.method) \(request.uri.path)")
            }
            throw OpenSearchError(error.status, type: "http_exception", reason: error.body ?? error.status.reasonPhrase)
        } catch is NIOTooManyBytesError {
            throw OpenSearchError(.contentTooLarge, type: "content_too_long_exception", reason: "request body is over the route's limit")
        } catch let error as LMDBError {
            if DiskFull.isDiskFull(error, directory: directory) { throw DiskFull.error(directory: directory, detail: error.description) }
            throw OpenSearchError(.internalServerError, type: "storage_exception", reason: error.description)
        }
    }
}

extension Response {
    /// A JSON response from already-encoded bytes.
    static func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=UTF-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A JSON response whose body is `buffer` (written in place, not copied).
    static func json(_ buffer: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=UTF-8"], body: ResponseBody(byteBuffer: buffer))
    }

    static func text(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        text(ByteBuffer(bytes: bytes), contentType: contentType, status: status)
    }

    static func text(_ buffer: ByteBuffer, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: buffer))
    }

    /// A response whose body `gzipped` is already a gzip member (`Content-Encoding: gzip`).
    static func gzipped(_ gzipped: [UInt8], contentType: String = "application/json; charset=UTF-8", status: HTTPResponse.Status = .ok)
        -> Response
    {
        Response(
            status: status, headers: [.contentType: contentType, .contentEncoding: "gzip", .vary: "Accept-Encoding"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: gzipped)))
    }
}
