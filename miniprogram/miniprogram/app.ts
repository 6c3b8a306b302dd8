// The app itself holds nothing: pages read the session and configuration
// from storage (lib/api.ts, lib/config.ts), so each can be tested alone.
App({});
