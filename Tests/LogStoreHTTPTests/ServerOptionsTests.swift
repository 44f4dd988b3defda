import LogStoreHTTP
import Testing

/// `--listen` forms: host:port, :port, a bare port, an IPv6 host in brackets; nonsense refused.
@Suite("ServerOptions(listen:)")
struct ServerOptionsTests {
    @Test(arguments: [
        ("127.0.0.1:9200", "127.0.0.1", 9200), (":9300", "0.0.0.0", 9300), ("9400", "127.0.0.1", 9400),
        ("[::1]:9500", "::1", 9500), ("[::]:9600", "::", 9600), ("logs.example.org:80", "logs.example.org", 80),
    ])
    func parses(_ text: String, host: String, port: Int) throws {
        let options = try #require(ServerOptions(listen: text))
        #expect(options.host == host && options.port == port)
    }

    @Test(arguments: ["", "host", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:99999"])
    func refuses(_ text: String) {
        #expect(ServerOptions(listen: text) == nil)
    }
}
