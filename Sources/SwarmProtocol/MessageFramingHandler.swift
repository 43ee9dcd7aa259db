import NIOCore

/// A parsed message and whether a `\n` ended it.
public struct Framed<Message: WireMessage>: Sendable {
    /// The message.
    public var message: Message
    /// Whether the sender terminated it with `\n` (only our own tracker and clients do).
    public var terminated: Bool
}

/// Frames and parses inbound bytes into `Message`s, firing each as it completes.
///
/// It owns the one timer the framing rules need: when bytes stop arriving for `quietPeriod` and
/// what is buffered is a whole message, that message is done (seed-era peers send no terminator).
/// Bad bytes fire ``WireError`` down the pipeline, where the logic handler closes the connection;
/// nothing after them is decoded.
public final class MessageFramingHandler<Message: WireMessage>: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Framed<Message>

    private let framer: MessageFramer
    private let quietPeriod: TimeAmount
    private var buffer = ByteBuffer()
    private var quietTimer: Scheduled<Void>?
    private var failed = false

    /// - Parameters:
    ///   - newlines: how `\n` is read (requests: `.alwaysEnd`; answers: `.endWholeMessage`).
    ///   - quietPeriod: how long the sender must pause before an unterminated whole message counts.
    ///   - maximumLength: longest message accepted before the connection is refused.
    public init(
        newlines: MessageFramer.NewlinePolicy,
        quietPeriod: TimeAmount = .milliseconds(10),
        maximumLength: Int = MessageFramer.defaultMaximumLength
    ) {
        self.framer = MessageFramer(newlines: newlines, maximumLength: maximumLength)
        self.quietPeriod = quietPeriod
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var incoming = unwrapInboundIn(data)
        if buffer.readableBytes == 0 {
            // Nothing left over: frame the read as it is, with no copy.
            swap(&buffer, &incoming)
        } else {
            buffer.writeBuffer(&incoming)
        }
        drain(context: context, atEndOfStream: false, senderPaused: false)
        scheduleQuietTimer(context: context)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(ChannelEvent.inputClosed) = event as? ChannelEvent {
            cancelQuietTimer()
            if drain(context: context, atEndOfStream: true, senderPaused: false) { context.fireChannelReadComplete() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelQuietTimer()
        drain(context: context, atEndOfStream: true, senderPaused: false)
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelQuietTimer()
    }

    private func scheduleQuietTimer(context: ChannelHandlerContext) {
        cancelQuietTimer()
        guard !failed, buffer.readableBytes > 0 else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        quietTimer = context.eventLoop.scheduleTask(in: quietPeriod) {
            let (handler, context) = loopBound.value
            handler.quietTimer = nil
            // Outside a read burst nothing else will say the reads are done; consumers such as
            // NIOAsyncChannel deliver only then.
            if handler.drain(context: context, atEndOfStream: false, senderPaused: true) {
                context.fireChannelReadComplete()
            }
        }
    }

    private func cancelQuietTimer() {
        quietTimer?.cancel()
        quietTimer = nil
    }

    /// Fires every complete message; returns whether there was any.
    @discardableResult
    private func drain(context: ChannelHandlerContext, atEndOfStream: Bool, senderPaused: Bool) -> Bool {
        var fired = false
        // The framer asks whether a text is a whole message by parsing it, often the very text it
        // then cuts (an answer's newline): that parse is kept instead of made twice.
        var lastWhole: (text: String, message: Message)?
        do {
            while !failed,
                let frame = try framer.nextFrame(
                    in: &buffer,
                    atEndOfStream: atEndOfStream,
                    senderPaused: senderPaused,
                    isWhole: { text in
                        guard let message = try? Message(parsing: text) else { return false }
                        lastWhole = (text, message)
                        return true
                    }
                )
            {
                let message = try lastWhole.flatMap { $0.text == frame.text ? $0.message : nil } ?? Message(parsing: frame.text)
                lastWhole = nil
                context.fireChannelRead(wrapInboundOut(Framed(message: message, terminated: frame.terminated)))
                fired = true
            }
            if buffer.readableBytes == 0 {
                // Let go of the read's storage, so the channel can reuse it for the next read.
                buffer = ByteBuffer()
            } else {
                buffer.discardReadBytes()
            }
        } catch {
            failed = true
            buffer.clear()
            cancelQuietTimer()
            context.fireErrorCaught(error)
        }
        return fired
    }
}
