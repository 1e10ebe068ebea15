//! The engine's feed: which events it has taken (so an event read both live and from the
//! database is taken once), how far it has read, and the stable key of a firing.

use std::collections::{HashSet, VecDeque};

use flowgate_core::automations::Firing;
use flowgate_core::{Event, Micros};
use flowgate_store::model::FeedPosition;
use uuid::Uuid;

/// How long an event's id is remembered after the position passed its receive time: longer
/// than another replica takes to commit what it received (its events are read from the
/// database a second later).
const HORIZON_MICROS: i64 = 10_000_000;

/// Ids of the events taken recently, oldest first.
#[derive(Default)]
pub struct Seen {
    ids: HashSet<Uuid>,
    order: VecDeque<(Micros, Uuid)>,
}

impl Seen {
    /// True the first time an event is offered.
    pub fn first_time(&mut self, event: &Event) -> bool {
        let fresh = self.ids.insert(event.id);
        if fresh {
            self.order.push_back((event.received, event.id));
        }
        fresh
    }

    /// Forgets events received well before `position` (they will not be offered again).
    pub fn forget_before(&mut self, position: Micros) {
        let cut = position.0.saturating_sub(HORIZON_MICROS);
        while let Some(&(received, id)) = self.order.front() {
            if received.0 >= cut {
                break;
            }
            self.order.pop_front();
            self.ids.remove(&id);
        }
    }
}

/// Moves the position past `event`: a later receive time starts a new set of ids.
pub fn advance(position: &mut FeedPosition, event: &Event) {
    if event.received > position.received {
        position.received = event.received;
        position.ids.clear();
        position.ids.push(event.id);
    } else if event.received == position.received {
        position.ids.push(event.id);
    }
}

/// A firing's identity within its automation: the same events replayed from a checkpoint
/// give the same key, a different decision a different one.
pub fn firing_key(f: &Firing) -> String {
    let event = f
        .triggering_event
        .map(|e| e.to_string())
        .unwrap_or_default();
    format!("{}/{}/{}/{event}", f.trigger_id, f.sequence, f.occurred.0)
}

#[cfg(test)]
mod tests {
    use flowgate_core::Payload;
    use flowgate_core::event::labels;

    use super::*;

    fn event(received: i64) -> Event {
        Event {
            id: Uuid::now_v7(),
            occurred: Micros(received),
            event: "x".into(),
            resource: labels([("prefect.resource.id", "r".to_owned())]),
            related: vec![],
            payload: Payload::from_value(&serde_json::Value::Null),
            follows: None,
            received: Micros(received),
        }
    }

    #[test]
    fn an_event_is_taken_once_and_forgotten_past_the_horizon() {
        let mut seen = Seen::default();
        let (old, new) = (event(0), event(HORIZON_MICROS + 5));
        assert!(seen.first_time(&old));
        assert!(!seen.first_time(&old));
        assert!(seen.first_time(&new));
        seen.forget_before(Micros(HORIZON_MICROS + 5));
        assert!(seen.first_time(&old), "forgotten");
        assert!(!seen.first_time(&new), "still remembered");
    }

    #[test]
    fn the_position_keeps_the_ids_of_its_latest_receive_time() {
        let mut p = FeedPosition::default();
        let (a, b, c) = (event(5), event(5), event(7));
        advance(&mut p, &a);
        advance(&mut p, &b);
        assert_eq!((p.received, p.ids.clone()), (Micros(5), vec![a.id, b.id]));
        advance(&mut p, &c);
        advance(&mut p, &event(6));
        assert_eq!((p.received, p.ids), (Micros(7), vec![c.id]));
    }
}
