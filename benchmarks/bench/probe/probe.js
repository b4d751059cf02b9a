// The raw AMQP round trip, measured with the fastest client found here (amqplib on
// Node: about twice py-amqp's and pika's rate on the same machine). Both ends set
// TCP_NODELAY: with Nagle's algorithm on, one request in flight waits about 40 ms
// for the peer's delayed ACK, and 32 in flight reach about 60% of the rate.
//
//   node probe.js serve AMQP_URI                  echo each request to its reply_to
//   node probe.js run AMQP_URI SECONDS IN_FLIGHT  keep IN_FLIGHT requests going for
//                                                 SECONDS, print JSON figures
'use strict';
const amqp = require('amqplib');

const QUEUE = 'bench-probe-echo';
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
  console.log('ready');
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
  const report = () => {
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
  };

  await channel.consume(DIRECT_REPLY_TO, (message) => {
    const id = message.properties.correlationId;
    latencies.push(Number(process.hrtime.bigint() - sentAt.get(id)) / 1e6);
    sentAt.delete(id);
    if (Date.now() < deadline) send();
    else if (sentAt.size === 0) report();
  }, { noAck: true });
  started = Date.now();
  for (let i = 0; i < inFlight; i++) send();
}

const [command, uri, seconds, inFlight] = process.argv.slice(2);
(command === 'serve' ? serve(uri) : run(uri, Number(seconds), Number(inFlight))).catch((error) => {
  console.error(error.message);
  process.exit(1);
});
