// Preloaded into the simulator process by the bench (node --import): keeps idle HTTP connections
// open for 2 minutes instead of Node's 5 s. workerd pools its connections to the simulator; with
// the 5 s default, the first calls after a pause between phases land on sockets the simulator
// has just closed ("Network connection lost"), and the Worker's retry with back-off would be
// measured as part of the route.
import http from "node:http";

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (...args) {
  this.keepAliveTimeout = 120_000;
  this.headersTimeout = 121_000;
  return listen.apply(this, args);
};
