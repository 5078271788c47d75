"""Inventory networks: settings, a differentiable batched simulator, classical policies, the exact
lost-sales optimum, and neural policies trained with HDPO (Alvo, Russo and Kanoria 2023).

Modules
-------
settings
    Validated, TOML-loadable settings (network tree, costs, demand, scenario sets, training,
    transshipment between stores).
simulator
    Batched torch simulator: ``make_scenarios`` and the differentiable ``step``.
env
    MDP interfaces: batched ``InventoryEnv`` and the Gymnasium-style ``GymInventoryEnv``.
policies, tuning
    Constant order, base-stock, capped base-stock, echelon base-stock, base-stock with
    balancing between stores, myopic; parameter search.
bounds
    Lower bounds for stores supplied externally (pooled systems) and free rebalancing.
dp
    Relative value iteration for one store with lost sales; exact backlog base-stock optimum.
neural, training
    MLP and GNN policies; HDPO and REINFORCE.
evaluation, registry, cli
    Cost measurement, policies by name, the ``coptim inventory`` commands.
"""
