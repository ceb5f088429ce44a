// Seed 000's own frontend code, run under node against a real server: its SocketService
// (connection setup), APIClient/APIError (error handling) and ChatService (complete chat
// integration), copied from the seed with only the TypeScript types removed. The seed's
// ChatService calls `socketService.on/emit`, which its SocketService leaves to the
// reader; the two one-line forwards below are all that is added. `window` and
// `localStorage` are the browser's, given here as small stand-ins.
//
// Usage: node seed000_chat.mjs <server url> <websocket|polling>
import { io } from "socket.io-client";

const [url, transport] = process.argv.slice(2);
const check = (cond, what) => { if (!cond) { console.error("FAILED:", what); process.exit(1); } };

// Browser globals the seed's code uses.
const store = new Map();
globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
const updates = [];
globalThis.window = { dispatchEvent: (event) => updates.push(event.detail.messages.slice()) };
globalThis.CustomEvent = class { constructor(type, init) { this.type = type; this.detail = init.detail; } };

// ---- seed 000: "Connection Setup" ----
class SocketService {
  socket = null;
  isConnected = false;

  connect() {
    this.socket = io(url, {
      path: '/socket.io/',
      transports: [transport],
      timeout: 20000,
      reconnection: true,
      reconnectionAttempts: 5,
      reconnectionDelay: 1000,
    });

    this.setupEventHandlers();
  }

  setupEventHandlers() {
    if (!this.socket) return;

    this.socket.on('connect', () => {
      console.log('Connected to backend');
      this.isConnected = true;
    });

    this.socket.on('disconnect', (reason) => {
      console.log('Disconnected from backend:', reason);
      this.isConnected = false;
    });

    this.socket.on('connected', (data) => {
      console.log('Backend connection confirmed:', data.message);
    });

    this.socket.on('connect_error', (error) => {
      console.error('Connection error:', error);
    });

    this.socket.on('error', (error) => {
      console.error('Socket error:', error);
    });
  }

  sendTestEvent(data) {
    if (this.socket && this.isConnected) {
      this.socket.emit('test_event', data);
    }
  }

  onTestResponse(callback) {
    if (this.socket) {
      this.socket.on('test_response', callback);
    }
  }

  // Added: the forwards the seed's ChatService calls.
  on(event, callback) { if (!this.socket) this.connect(); this.socket.on(event, callback); }
  emit(event, data) { this.socket.emit(event, data); }
}

// ---- seed 000: "API Error Handling" ----
class APIError extends Error {
  constructor(message, statusCode = 0, details) {
    super(message);
    this.name = 'APIError';
    this.statusCode = statusCode;
    this.details = details;
  }
}

class APIClient {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  async request(endpoint, options = {}) {
    try {
      const url = `${this.baseUrl}${endpoint}`;
      const response = await fetch(url, {
        ...options,
        headers: {
          'Content-Type': 'application/json',
          ...options.headers,
        },
      });

      if (!response.ok) {
        throw new APIError(`HTTP ${response.status}: ${response.statusText}`, response.status);
      }

      const data = await response.json();

      if (data.success === false) {
        throw new APIError(data.error || data.message || 'API request failed', response.status, data);
      }

      return data;
    } catch (error) {
      if (error instanceof APIError) {
        throw error;
      }
      throw new APIError(`Network error: ${error.message}`, 0, { originalError: error });
    }
  }
}

const ChatErrorHandler = { handleChatError: (error) => error };

// ---- seed 000: "Complete Chat Integration" ----
class ChatService {
  messages = [];
  isConnected = false;

  constructor() {
    this.apiClient = new APIClient(url);
    this.socketService = new SocketService();
    this.setupSocketHandlers();
  }

  setupSocketHandlers() {
    this.socketService.on('connected', () => {
      this.isConnected = true;
    });

    this.socketService.on('mama_bear_response', (data) => {
      this.handleBotResponse(data);
    });

    this.socketService.on('chat_error', (error) => {
      this.handleChatError(error);
    });
  }

  async sendMessage(content) {
    try {
      const userMessage = {
        id: this.generateId(),
        content,
        sender: 'user',
        timestamp: new Date()
      };

      this.messages.push(userMessage);
      this.notifyMessageUpdate();

      if (this.isConnected) {
        this.socketService.emit('mama_bear_chat', {
          message: content,
          session_id: this.getSessionId(),
          user_id: 'nathan'
        });
      } else {
        const response = await this.apiClient.request('/api/chat/mama-bear', {
          method: 'POST',
          body: JSON.stringify({
            message: content,
            user_id: 'nathan',
            session_id: this.getSessionId()
          })
        });

        this.handleBotResponse(response);
      }

      return userMessage;
    } catch (error) {
      const chatError = ChatErrorHandler.handleChatError(error);
      this.handleChatError(chatError);
      throw chatError;
    }
  }

  handleBotResponse(data) {
    const botMessage = {
      id: this.generateId(),
      content: data.message || data.response,
      sender: 'assistant',
      timestamp: new Date(),
      metadata: data.metadata
    };

    this.messages.push(botMessage);
    this.notifyMessageUpdate();
  }

  handleChatError(error) {
    const errorMessage = {
      id: this.generateId(),
      content: `Error: ${error.message}`,
      sender: 'assistant',
      timestamp: new Date(),
      metadata: { isError: true, error }
    };

    this.messages.push(errorMessage);
    this.notifyMessageUpdate();
  }

  generateId() {
    return `msg_${Date.now()}_${Math.random().toString(36).substr(2, 9)}`;
  }

  getSessionId() {
    return localStorage.getItem('chat_session_id') || this.createSessionId();
  }

  createSessionId() {
    const sessionId = `session_${Date.now()}_${Math.random().toString(36).substr(2, 9)}`;
    localStorage.setItem('chat_session_id', sessionId);
    return sessionId;
  }

  notifyMessageUpdate() {
    window.dispatchEvent(new CustomEvent('chat_messages_updated', {
      detail: { messages: this.messages }
    }));
  }

  getMessages() {
    return [...this.messages];
  }
}

// ---- the test: what a user of the seed's frontend sees ----
const until = async (what, cond) => {
  for (let i = 0; i < 600; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  check(false, `timed out waiting for ${what}`);
};

const chat = new ChatService();
await until("the connected event", () => chat.isConnected);
check(chat.socketService.socket.io.engine.transport.name === transport, "transport");

const question = "Which tools are installed?";
await chat.sendMessage(question);
await until("the assistant's answer", () => chat.getMessages().length >= 2);
const [mine, answer] = chat.getMessages();
check(mine.sender === "user" && mine.content === question, JSON.stringify(mine));
check(answer.sender === "assistant" && !answer.metadata?.isError, JSON.stringify(answer));
check(answer.content && answer.content !== question, `the assistant's bubble shows the user's own message: ${answer.content}`);
check(answer.metadata && answer.metadata.tokens_used > 0, JSON.stringify(answer.metadata));

// A chat error renders "Error: <message>", never "Error: undefined".
chat.socketService.emit('mama_bear_chat', { message: "", session_id: chat.getSessionId(), user_id: 'nathan' });
await until("the chat error", () => chat.getMessages().length >= 3);
const failed = chat.getMessages()[2];
check(failed.metadata?.isError, JSON.stringify(failed));
check(failed.content !== "Error: undefined" && failed.content.startsWith("Error: "), failed.content);

// Over HTTP (the fallback path): the same bubble, from the ChatResponse.
chat.isConnected = false;
await chat.sendMessage("And over HTTP?");
const viaHttp = chat.getMessages().at(-1);
check(viaHttp.sender === "assistant" && viaHttp.content && viaHttp.content !== "And over HTTP?", JSON.stringify(viaHttp));

// A message over 100 kB (the old engine limit) is carried: the seeds' 1 MB limit.
chat.isConnected = true;
const before = chat.getMessages().length;
const big = "x".repeat(300 * 1024);
chat.socketService.emit('test_event', { big });
let echoed = null;
chat.socketService.socket.on('test_response', (data) => { echoed = data; });
await until("the echo of a 300 kB message", () => echoed !== null);
check(echoed.data.big.length === big.length, "the big message came back whole");
check(chat.socketService.socket.connected, "still connected after a 300 kB message");
check(chat.getMessages().length === before, "nothing else arrived");

console.log("seed 000 ChatService ok over", transport);
chat.socketService.socket.close();
process.exit(0);
