// cognn-serve's web page: the camera, MediaPipe's pose landmarker in the page, the landmarks sent over the
// WebSocket as a "mediapipe" stream, the server's answer (label, repetitions, top classes) and the latency shown.
import { FilesetResolver, PoseLandmarker, DrawingUtils } from "/vendor/vision_bundle.mjs";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const video = $("video");
const canvas = $("overlay");
const ctx = canvas.getContext("2d");
const draw = new DrawingUtils(ctx);
const sentAt = new Map();
let ws = null;
let seq = 0;
let t0 = null;

function say(text) { $("state").textContent = text; }

function show(answer) {
  const started = sentAt.get(answer.seq);
  sentAt.delete(answer.seq);
  const label = answer.ready ? answer.label : `${answer.label} (warming up)`;
  $("label").textContent = label;
  document.title = `cognn: ${answer.label}`;
  document.body.dataset.label = answer.label;
  $("reps").textContent = answer.reps != null ? `×${answer.reps}` : "";
  $("top").innerHTML = (answer.top || []).map((t) => `${t.label} ${(100 * t.score).toFixed(0)}%`).join("<br>");
  if (started !== undefined) {
    $("latency").textContent = `latency ${(performance.now() - started).toFixed(0)} ms` +
      (answer.dropped_total ? `, ${answer.dropped_total} frames dropped` : "");
  }
  if (answer.body) say(answer.body);
}

function connect(width, height) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const token = params.get("token");
  ws = new WebSocket(`${scheme}://${location.host}/ws${token ? `?token=${encodeURIComponent(token)}` : ""}`);
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", model: params.get("model") || undefined,
                                             input: "mediapipe", width, height, name: "browser" }));
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "ready") say(`${msg.model}: ${msg.classes.length} classes at ${msg.fps} fps`);
    else if (msg.type === "answer") show(msg);
    else if (msg.type === "error") say(`error: ${msg.reason}`);
  };
  ws.onclose = (ev) => say(`stream closed${ev.reason ? `: ${ev.reason}` : ""}`);
}

async function main() {
  const fileset = await FilesetResolver.forVisionTasks("/vendor/wasm");
  const landmarker = await PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: "/weights/pose_landmarker_full.task", delegate: "CPU" },
    runningMode: "VIDEO", numPoses: 2 });
  say("opening the camera…");
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  await new Promise((ok) => { video.onloadeddata = ok; });
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  connect(video.videoWidth, video.videoHeight);
  let last = -1;
  const tick = () => {
    const now = performance.now();
    if (video.currentTime !== last && video.readyState >= 2) {
      last = video.currentTime;
      const result = landmarker.detectForVideo(video, now);
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      for (const lm of result.landmarks) {
        draw.drawConnectors(lm, PoseLandmarker.POSE_CONNECTIONS, { color: "#7fd", lineWidth: 3 });
        draw.drawLandmarks(lm, { color: "#fff", radius: 2 });
      }
      if (ws && ws.readyState === WebSocket.OPEN) {
        if (t0 === null) t0 = now;
        const people = result.landmarks.map((lm, i) => ({
          landmarks: lm.map((p) => [p.x, p.y, p.z, p.visibility ?? 1]),
          world: (result.worldLandmarks[i] || []).map((p) => [p.x, p.y, p.z]) }));
        sentAt.set(seq, now);
        ws.send(JSON.stringify({ type: "frame", t: (now - t0) / 1000, seq: seq++, people }));
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

main().catch((e) => say(`cannot start: ${e.message || e} (was cognn-serve --setup-web run?)`));
