//! A trigger tree flattened for the engine: nodes in pre-order with their parents, and the
//! fresh or restored state that goes with them.

use std::time::Duration;

use uuid::Uuid;

use super::composite::{CompositeNode, Shape};
use super::event_trigger::{EventLeaf, micros};
use super::metric::MetricLeaf;
use super::state::{
    AutomationState, CompositeState, EventState, MetricState, NodeState, STATE_VERSION,
};
use super::trigger::{Posture, Trigger};

/// A compiled trigger tree node.
#[derive(Clone, Debug)]
pub(super) enum Node {
    Event(EventLeaf),
    Metric(MetricLeaf),
    Composite(CompositeNode),
}

/// A trigger tree flattened in pre-order.
pub(super) struct Compiled {
    pub nodes: Vec<Node>,
    /// Per node: its parent and its position among the parent's parts.
    pub parents: Vec<Option<(usize, usize)>>,
    pub ids: Vec<Uuid>,
}

/// Flattens a trigger tree.
pub(super) fn compile(trigger: &Trigger) -> Compiled {
    let mut order: Vec<(&Trigger, Option<(usize, usize)>)> = Vec::new();
    let mut stack = vec![(trigger, None)];
    while let Some((t, parent)) = stack.pop() {
        let me = order.len();
        order.push((t, parent));
        for (pos, child) in t.children().iter().enumerate().rev() {
            stack.push((child, Some((me, pos))));
        }
    }
    let nodes = order
        .iter()
        .map(|(t, _)| match t {
            Trigger::Event(e) => Node::Event(EventLeaf::new(e.clone())),
            Trigger::Metric(m) => Node::Metric(MetricLeaf::new(m.clone())),
            Trigger::Compound(c) => composite(Shape::Compound(c.require), c.within, &c.triggers),
            Trigger::Sequence(s) => composite(Shape::Sequence, s.within, &s.triggers),
        })
        .collect();
    Compiled {
        nodes,
        parents: order.iter().map(|(_, p)| *p).collect(),
        ids: order.iter().map(|(t, _)| t.id()).collect(),
    }
}

fn composite(shape: Shape, within: Option<Duration>, parts: &[Trigger]) -> Node {
    Node::Composite(CompositeNode {
        shape,
        within: within.map_or(0, micros),
        conditions: parts
            .iter()
            .map(|p| match p {
                Trigger::Event(e) => e.posture == Posture::Proactive,
                Trigger::Metric(_) => true,
                Trigger::Compound(_) | Trigger::Sequence(_) => false,
            })
            .collect(),
    })
}

pub(super) fn fresh_state(nodes: &[Node], trigger_ids: Vec<Uuid>) -> AutomationState {
    AutomationState {
        version: STATE_VERSION,
        trigger_ids,
        nodes: nodes.iter().map(empty_node_state).collect(),
        ..AutomationState::default()
    }
}

fn empty_node_state(node: &Node) -> NodeState {
    match node {
        Node::Event(_) => NodeState::Event(EventState::default()),
        Node::Metric(_) => NodeState::Metric(MetricState::default()),
        Node::Composite(_) => NodeState::Composite(CompositeState::default()),
    }
}

/// Why a stored state does not fit this tree, if it does not.
pub(super) fn compatible(s: &AutomationState, nodes: &[Node], ids: &[Uuid]) -> Result<(), String> {
    if s.version != STATE_VERSION {
        return Err(format!(
            "the stored state has layout {} (this engine reads {STATE_VERSION})",
            s.version
        ));
    }
    if s.trigger_ids != ids || s.nodes.len() != nodes.len() {
        return Err("the stored state belongs to another version of the trigger".into());
    }
    let fits = nodes.iter().zip(&s.nodes).all(|(n, st)| {
        matches!(
            (n, st),
            (Node::Event(_), NodeState::Event(_))
                | (Node::Metric(_), NodeState::Metric(_))
                | (Node::Composite(_), NodeState::Composite(_))
        )
    });
    fits.then_some(())
        .ok_or_else(|| "the stored state's trigger kinds differ".into())
}
