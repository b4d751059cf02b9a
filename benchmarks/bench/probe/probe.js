// The raw AMQP round trip, measured with the fastest client found here (amqplib on
// Node: about twice py-amqp's and pika's rate on the same machine). Both ends set
// TCP_NODELAY: with Nagle's algorithm on, one request in flight waits about 40 ms
// for the peer's delayed ACK, and 32 in flight reach about 60% of the rate.
//
//   node probe.js serve AMQP_URI                  echo each request to its reply_to
//   node probe.js run AMQP_URI SECONDS IN_FLIGHT  keep IN_FLIGHT requests going for
//                                                 SECONDS, print JSON figures
//   node probe.js confirm AMQP_URI SECONDS IN_FLIGHT  the same for persistent messages
//                                                 to a durable queue, each awaited until
//                                                 the broker confirms it (as the gateway
//                                                 publishes its event; serve consumes them)
'use strict';
const amqp = require('amqplib');

const QUEUE = 'bench-probe-echo';
const DURABLE_QUEUE = 'bench-probe-durable';
const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

async function serve(uri) {
  const connection = await amqp.connect(uri, { noDelay: true });
  const channel = await connection.createChannel();
  await channel.assertQueue(QUEUE, { autoDelete: true });
  await channel.prefetch(64);
  await channel.consume(QUEUE, (message) => {
    channel.sendToQueue(message.properties.replyTo, message.content, {
      correlationId: message.properties.correlationId,
    });
    channel.ack(message);
  });
  await channel.assertQueue(DURABLE_QUEUE, { durable: true });
  await channel.consume(DURABLE_QUEUE, (message) => channel.ack(message));
  console.log('ready');
}

function report(latencies, started) {
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))];
  console.log(JSON.stringify({
    requests_per_second: latencies.length / elapsed,
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    requests: latencies.length,
  }));
  process.exit(0);
}

async function run(uri, seconds, inFlight) {
  const connection = await amqp.connect(uri, { noDelay: true });
  const channel = await connection.createChannel();
  const sentAt = new Map();
  const latencies = [];
  const deadline = Date.now() + seconds * 1000;
  let nextId = 0;
  let started;

  const send = () => {
    const id = String(++nextId);
    sentAt.set(id, process.hrtime.bigint());
    channel.sendToQueue(QUEUE, Buffer.from('[1,2,3]'), {
      replyTo: DIRECT_REPLY_TO,
      correlationId: id,
    });
  };

  await channel.consume(DIRECT_REPLY_TO, (message) => {
    const id = message.properties.correlationId;
    latencies.push(Number(process.hrtime.bigint() - sentAt.get(id)) / 1e6);
    sentAt.delete(id);
    if (Date.now() < deadline) send();
    else if (sentAt.size === 0) report(latencies, started);
  }, { noAck: true });
  started = Date.now();
  for (let i = 0; i < inFlight; i++) send();
}

async function confirm(uri, seconds, inFlight) {
  const connection = await amqp.connect(uri, { noDelay: true });
  const channel = await connection.createConfirmChannel();
  const latencies = [];
  const deadline = Date.now() + seconds * 1000;
  const publish = () => new Promise((resolve, reject) => {
    channel.sendToQueue(DURABLE_QUEUE, Buffer.from('[1,2,3]'), { persistent: true },
      (error) => (error ? reject(error) : resolve()));
  });
  const keepPublishing = async () => {
    while (Date.now() < deadline) {
      const sentAt = process.hrtime.bigint();
      await publish();
      latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: inFlight }, keepPublishing));
  report(latencies, started);
}

const commands = { serve, run, confirm };
const [command, uri, seconds, inFlight] = process.argv.slice(2);
commands[command](uri, Number(seconds), Number(inFlight)).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
