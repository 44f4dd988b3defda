import ArgumentParser
import Foundation
import LogStore
import Logging

/// A failure already reported to the user: exit with `code` and print nothing more.
struct Exit: Error {
    var code: Int32
}
