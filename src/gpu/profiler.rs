//! `--profile`: per-kernel GPU time from timestamp queries, or wall-clock
//! time per dispatch (each submitted and waited on alone, less the measured
//! cost of submitting and waiting on an empty pass) where the adapter has no
//! usable timestamps.

use std::collections::HashMap;
use std::time::Instant;

use super::recorder::{encode, Cmd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileMode {
    Off,
    Timestamps,
    WallClock,
}

/// Most dispatches timed per submit (two queries each).
const MAX_TIMED: usize = 1024;

pub struct Profiler {
    mode: ProfileMode,
    stats: HashMap<String, (u64, f64)>,
    queries: Option<(wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer)>,
    period_ns: f64,
    /// Wall clock: median cost of submitting and waiting on an empty
    /// compute pass, subtracted from each dispatch's time.
    overhead_ns: f64,
}

/// One empty compute pass, submitted and waited on: the wall-clock mode's
/// fixed cost per dispatch.
fn empty_submit(device: &wgpu::Device, queue: &wgpu::Queue) {
    let mut enc = device.create_command_encoder(&Default::default());
    drop(enc.begin_compute_pass(&Default::default()));
    queue.submit([enc.finish()]);
    device.poll(wgpu::PollType::wait_indefinitely()).expect("device lost");
}

impl Profiler {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, mode: ProfileMode) -> Self {
        let queries = (mode == ProfileMode::Timestamps).then(|| {
            let n = (2 * MAX_TIMED) as u32;
            let set = device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profiler"),
                ty: wgpu::QueryType::Timestamp,
                count: n,
            });
            let resolve = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("profiler resolve"),
                size: n as u64 * 8,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let read = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("profiler read"),
                size: n as u64 * 8,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            (set, resolve, read)
        });
        let overhead_ns = if mode == ProfileMode::WallClock {
            empty_submit(device, queue);
            let mut t: Vec<f64> = (0..15)
                .map(|_| {
                    let t0 = Instant::now();
                    empty_submit(device, queue);
                    t0.elapsed().as_nanos() as f64
                })
                .collect();
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        } else {
            0.0
        };
        Profiler { mode, stats: HashMap::new(), queries, period_ns: queue.get_timestamp_period() as f64, overhead_ns }
    }

    pub fn mode(&self) -> ProfileMode {
        self.mode
    }

    fn add(&mut self, name: String, ns: f64) {
        let e = self.stats.entry(name).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += ns;
    }

    pub fn submit(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, cmds: Vec<Cmd>) {
        match self.mode {
            ProfileMode::Off => {
                let mut enc = device.create_command_encoder(&Default::default());
                encode(&mut enc, &cmds, None);
                queue.submit([enc.finish()]);
            }
            ProfileMode::WallClock => {
                for c in cmds.chunks(1) {
                    let t = Instant::now();
                    let mut enc = device.create_command_encoder(&Default::default());
                    encode(&mut enc, c, None);
                    queue.submit([enc.finish()]);
                    device.poll(wgpu::PollType::wait_indefinitely()).expect("device lost");
                    let ns = (t.elapsed().as_nanos() as f64 - self.overhead_ns).max(0.0);
                    match &c[0] {
                        Cmd::Dispatch { kernel, .. } => self.add(kernel.name(), ns),
                        Cmd::CopyToTexture { .. } => self.add("(copy tensor to texture)".into(), ns),
                        _ => {}
                    }
                }
            }
            ProfileMode::Timestamps => {
                // Split so no submit times more than MAX_TIMED dispatches.
                let mut start = 0;
                while start < cmds.len() {
                    let mut end = start;
                    let mut d = 0;
                    while end < cmds.len() {
                        let is_d = matches!(cmds[end], Cmd::Dispatch { .. });
                        if is_d && d == MAX_TIMED {
                            break;
                        }
                        d += is_d as usize;
                        end += 1;
                    }
                    self.submit_timed(device, queue, &cmds[start..end], d);
                    start = end;
                }
            }
        }
    }

    fn submit_timed(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, cmds: &[Cmd], d: usize) {
        let (set, resolve, read) = self.queries.as_ref().unwrap();
        let mut enc = device.create_command_encoder(&Default::default());
        encode(&mut enc, cmds, Some(set));
        if d > 0 {
            enc.resolve_query_set(set, 0..(2 * d) as u32, resolve, 0);
            enc.copy_buffer_to_buffer(resolve, 0, read, 0, (2 * d * 8) as u64);
        }
        queue.submit([enc.finish()]);
        if d == 0 {
            return;
        }
        let slice = read.slice(..(2 * d * 8) as u64);
        slice.map_async(wgpu::MapMode::Read, |r| r.expect("map timestamps"));
        device.poll(wgpu::PollType::wait_indefinitely()).expect("device lost");
        let ticks: Vec<u64> = bytemuck::cast_slice(&slice.get_mapped_range().expect("mapped timestamps")).to_vec();
        read.unmap();
        let names: Vec<String> = cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::Dispatch { kernel, .. } => Some(kernel.name()),
                _ => None,
            })
            .collect();
        for (i, name) in names.into_iter().enumerate() {
            let dt = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * self.period_ns;
            self.add(name, dt);
        }
    }

    /// Markdown table sorted by total time, or None when profiling is off.
    pub fn report(&self) -> Option<String> {
        let how = match self.mode {
            ProfileMode::Off => return None,
            ProfileMode::Timestamps => "GPU timestamp queries",
            ProfileMode::WallClock => {
                "wall clock per dispatch, each submitted and waited on alone, less the cost of an empty submit (no usable timestamp queries on this adapter, or ADVLAB_PROFILE=wall)"
            }
        };
        let total: f64 = self.stats.values().map(|s| s.1).sum();
        let mut rows: Vec<_> = self.stats.iter().collect();
        rows.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
        let mut s = format!("per-kernel profile ({how})\n\n| kernel | calls | total ms | mean µs | share |\n|---|---:|---:|---:|---:|\n");
        for (name, (calls, ns)) in rows {
            s += &format!(
                "| {name} | {calls} | {:.3} | {:.1} | {:.1}% |\n",
                ns / 1e6,
                ns / 1e3 / *calls as f64,
                100.0 * ns / total.max(1e-9)
            );
        }
        Some(s)
    }
}
