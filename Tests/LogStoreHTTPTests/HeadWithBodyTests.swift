import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
@testable import LogStoreHTTP

/// An answer's head leaves with its body in one flush; streamed and bodiless answers' heads
/// leave at once. Through NIO's `EmbeddedChannel`, which hands out what was flushed only.
@Suite struct HeadWithBodyTests {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([HTTPResponseEncoder(), HeadWithBody()])
        return channel
    }

    func head(_ status: HTTPResponseStatus, _ headers: [(String, String)]) -> HTTPServerResponsePart {
        .head(HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(headers)))
    }

    /// Every buffer flushed so far, as one string.
    func flushed(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func headWithAnnouncedBodyWaitsForTheBody() throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }
        // Written and flushed; its promise completes once the body's flush sends it.
        channel.write(head(.ok, [("content-length", "5")]), promise: nil)
        channel.flush()
        #expect(try flushed(channel) == "")
        try channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "hello")))).wait()
        let answer = try flushed(channel)
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(answer.hasSuffix("\r\n\r\nhello"))
        try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
        // The next answer on the connection is held the same way.
        channel.write(head(.badRequest, [("content-length", "2")]), promise: nil)
        channel.flush()
        #expect(try flushed(channel) == "")
        channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "no"))), promise: nil)
        try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
        #expect(try flushed(channel).hasSuffix("\r\n\r\nno"))
    }

    @Test(arguments: [
        (HTTPResponseStatus.ok, [("transfer-encoding", "chunked")]),
        (.ok, [("content-length", "0")]),
        (.noContent, []),
        (.notModified, [("content-length", "12")]),
        (.continue, []),
    ])
    func headsOfStreamedOrBodilessAnswersLeaveAtOnce(status: HTTPResponseStatus, headers: [(String, String)]) throws {
        let channel = try channel()
        defer { _ = try? channel.finish() }
        try channel.writeAndFlush(head(status, headers)).wait()
        #expect(try flushed(channel).hasPrefix("HTTP/1.1 \(status.code)"))
    }

    @Test func endFlushesAHeadWhoseBodyNeverCame() throws {
        // A HEAD request's answer announces the length of a body it does not send.
        let channel = try channel()
        defer { _ = try? channel.finish() }
        channel.write(head(.ok, [("content-length", "40")]), promise: nil)
        channel.flush()
        #expect(try flushed(channel) == "")
        try channel.writeAndFlush(HTTPServerResponsePart.end(nil)).wait()
        #expect(try flushed(channel).hasPrefix("HTTP/1.1 200 OK"))
    }
}
