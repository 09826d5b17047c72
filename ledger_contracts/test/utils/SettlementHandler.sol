// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {GridToken} from "../../src/GridToken.sol";
import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {Market} from "../../src/Market.sol";
import {Settlement} from "../../src/Settlement.sol";
import {HandlerBase} from "./HandlerBase.sol";
import {Vm} from "./Vm.sol";

/// @notice Drives whole games through settlement with bounded random actions (Morpho-style
/// handler): games opened, offers and demands (funded exactly, short, or not at all), bids,
/// trades fixed in random chunks, random meter readings, closes in random chunks, and money
/// moving around them (mints, burns, transfers, allowances). Keeps ghost totals of minted and
/// burned tokens, of what every seller was paid ({ISettlement.SellerPaid}) and of debts a buyer
/// was left with although it consumed no more than its demand (a seller's shortfall must never
/// cause one), and tries actions from callers that lack the role: any of those succeeding is
/// recorded as a violation.
contract SettlementHandler is HandlerBase {
    Settlement public immutable settler;
    GridToken public immutable token;
    address public immutable meter;

    uint256 public minted;
    uint256 public burned;
    /// @dev What each seller received from settlement in a game ({ISettlement.SellerPaid} at close).
    mapping(uint256 gameId => mapping(address seller => uint256)) public paidToSeller;
    /// @dev Debts recorded against a buyer whose consumption was within its demand: must stay 0.
    uint256 public shortfallDebts;
    /// @dev Readings that moved tokens (a reading only records): must stay 0.
    uint256 public readingsThatPaid;
    uint256 public readings;
    uint256 public gamesClosed;
    uint256 public demandsRefused;

    constructor(
        Market market_,
        Settlement settler_,
        GridToken token_,
        address[4] memory actors, // operator, clock, meter, stranger
        address[] memory prosumers_
    ) HandlerBase(market_, actors[0], actors[1], actors[3], prosumers_) {
        settler = settler_;
        token = token_;
        meter = actors[2];
        minted = token_.totalSupply();
    }

    function accounts() external view returns (address[] memory list) {
        list = new address[](_prosumers.length + 5);
        for (uint256 k; k < _prosumers.length; ++k) {
            list[k] = _prosumers[k];
        }
        uint256 n = _prosumers.length;
        (list[n], list[n + 1], list[n + 2], list[n + 3], list[n + 4]) =
        (operator, clock, meter, stranger, address(settler));
    }

    // ---------------------------------------------------------------- the game

    function openGame(uint256 registration, uint256 delivery, uint256 roundLimit) external {
        if (market.gameCount() >= MAX_GAMES) return;
        uint64 end = uint64(block.timestamp + _bound(registration, 1, 600));
        IMarket.GameParams memory params = IMarket.GameParams({
            registrationEnd: end,
            deliveryEnd: end + uint64(_bound(delivery, 1, 900)),
            roundLimit: uint32(_bound(roundLimit, 1, 3)),
            turnSeconds: 60,
            epsilon: 0
        });
        vm.prank(clock);
        market.openGame(params);
    }

    function publishOffer(uint256 gameSeed, uint256 actorSeed, uint256 wh, uint256 price) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Registration);
        if (!found) return;
        (, IMarket.GamePrices memory prices,) = market.game(gameId);
        vm.prank(_prosumer(actorSeed));
        try market.publishOffer(gameId, _bound(wh, 1, 3_000), _bound(price, 1, prices.retail - 1)) {} catch {}
    }

    /// @dev `fund` % 4: 0 exactly the escrow, 1 one unit short of balance, 2 one unit short of
    /// allowance, 3 nothing added.
    function publishDemand(uint256 gameSeed, uint256 actorSeed, uint256 wh, uint256 fund) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Registration);
        if (!found) return;
        address buyer = _prosumer(actorSeed);
        wh = _bound(wh, 1, 4_000);
        (uint256 amount,) = settler.escrowFor(gameId, buyer, wh);
        uint256 mode = fund % 4;
        if (mode < 3) {
            uint256 balance = token.balanceOf(buyer);
            uint256 target = mode == 1 ? amount - 1 : amount;
            if (balance < target) _mint(buyer, target - balance);
            vm.prank(buyer);
            token.approve(address(settler), mode == 2 ? amount - 1 : amount);
        }
        vm.prank(buyer);
        try market.publishDemand(gameId, wh) {}
        catch {
            ++demandsRefused;
        }
    }

    function closeRegistration(uint256 gameSeed) external {
        _closeRegistration(gameSeed);
    }

    /// @dev The current buyer bids a valid vector (within capacities and its demand).
    function bid(uint256 gameSeed, uint256 amountSeed) external {
        (uint256 gameId, bool found) = _gameIn(gameSeed, IMarket.Phase.Bidding);
        if (!found) return;
        IMarket.GameState memory state = market.gameState(gameId);
        if (block.timestamp > state.status.turnDeadline) {
            vm.prank(clock);
            market.skipTurn(gameId);
            return;
        }
        IMarket.Offer[] memory offers = market.offers(gameId);
        uint256 left = market.demands(gameId)[state.status.turn].wh;
        uint256[] memory amounts = new uint256[](offers.length);
        for (uint256 j; j < offers.length; ++j) {
            uint256 room = offers[j].wh - (state.loads[j] - state.currentBid[j]);
            uint256 x = uint256(keccak256(abi.encode(amountSeed, j))) % (room + 1);
            if (x > left) x = left;
            left -= x;
            amounts[j] = x;
        }
        vm.prank(state.currentBuyer);
        market.bid(gameId, state.status.round, state.status.turn, amounts);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 0, 120));
    }

    // ---------------------------------------------------------------- settlement

    function fixTrades(uint256 gameSeed, uint256 chunk) external {
        uint256 count = market.gameCount();
        for (uint256 k; k < count; ++k) {
            uint256 gameId = (gameSeed % count + k) % count + 1;
            if (market.phase(gameId) != IMarket.Phase.Ended) continue;
            if (settler.gameBook(gameId).status >= ISettlement.Status.TradesFixed) continue;
            vm.prank(stranger); // anyone may
            settler.fixTrades(gameId, _bound(chunk, 1, 4));
            return;
        }
    }

    /// @dev A meter reading for a participant of a game whose trades are fixed: anything from
    /// nothing to well beyond what the prosumer traded.
    function postReading(uint256 gameSeed, uint256 actorSeed, uint256 produced, uint256 consumed) external {
        (uint256 gameId, bool found) = _settlementGameIn(gameSeed, ISettlement.Status.TradesFixed);
        if (!found) return;
        IMarket.Offer[] memory offers = market.offers(gameId);
        IMarket.Demand[] memory demands = market.demands(gameId);
        uint256 n = offers.length + demands.length;
        for (uint256 k; k < n; ++k) {
            uint256 pick = (actorSeed % n + k) % n;
            address account = pick < offers.length ? offers[pick].seller : demands[pick - offers.length].buyer;
            if (settler.party(gameId, account).read) continue;
            uint256 held = token.balanceOf(address(settler));
            vm.prank(meter);
            settler.postReading(gameId, account, _bound(produced, 0, 4_000), _bound(consumed, 0, 5_000));
            ++readings;
            if (token.balanceOf(address(settler)) != held) ++readingsThatPaid;
            return;
        }
    }

    /// @dev Closes (a chunk of) a game whose trades are fixed; one time in four even before
    /// every participant has read, otherwise only once all have.
    function closeGame(uint256 gameSeed, uint256 chunk) external {
        uint256 count = market.gameCount();
        for (uint256 k; k < count; ++k) {
            uint256 gameId = (gameSeed % count + k) % count + 1;
            ISettlement.GameBook memory book = settler.gameBook(gameId);
            if (book.status < ISettlement.Status.TradesFixed || book.status == ISettlement.Status.Closed) continue;
            if (book.status == ISettlement.Status.TradesFixed && chunk % 4 != 0 && !_allRead(gameId)) continue;
            if (block.timestamp < book.deliveryEnd) vm.warp(book.deliveryEnd);
            vm.recordLogs();
            vm.prank(clock);
            if (settler.closeGame(gameId, _bound(chunk, 1, 5))) ++gamesClosed;
            _audit(gameId, vm.getRecordedLogs());
            return;
        }
    }

    /// @dev Books a close chunk's seller payments and counts debts a seller's shortfall caused: a
    /// buyer owing the grid although it consumed at most its demand.
    function _audit(uint256 gameId, Vm.Log[] memory logs) private {
        for (uint256 k; k < logs.length; ++k) {
            bytes32 topic = logs[k].topics[0];
            if (topic == ISettlement.SellerPaid.selector) {
                (, uint256 amount) = abi.decode(logs[k].data, (uint256, uint256));
                paidToSeller[gameId][address(uint160(uint256(logs[k].topics[2])))] += amount;
            } else if (topic == ISettlement.DebtRecorded.selector) {
                address debtor = address(uint160(uint256(logs[k].topics[2])));
                (IMarket.Role role,) = market.participant(gameId, debtor);
                ISettlement.Party memory p = settler.party(gameId, debtor);
                if (role == IMarket.Role.Buyer && p.consumedWh <= p.demandWh) ++shortfallDebts;
            }
        }
    }

    // ---------------------------------------------------------------- money around the games

    function mint(uint256 actorSeed, uint256 amount) external {
        _mint(_prosumer(actorSeed), _bound(amount, 0, 2_000_000));
    }

    function burn(uint256 amount) external {
        amount = _bound(amount, 0, token.balanceOf(operator) / 10);
        vm.prank(operator);
        token.burn(amount);
        burned += amount;
    }

    function transfer(uint256 fromSeed, uint256 toSeed, uint256 amount) external {
        address from = _prosumer(fromSeed);
        amount = _bound(amount, 0, token.balanceOf(from));
        vm.prank(from);
        bool ok = token.transfer(_prosumer(toSeed), amount);
        assert(ok);
    }

    /// @dev A prosumer (or, for seed 0 mod 9, the operator) sets its allowance to settlement:
    /// drives wallet payments of imports and exports, and debts when it falls short.
    function approve(uint256 actorSeed, uint256 amount) external {
        address owner = actorSeed % 9 == 0 ? operator : _prosumer(actorSeed);
        vm.prank(owner);
        token.approve(address(settler), _bound(amount, 0, 3_000_000));
    }

    // ---------------------------------------------------------------- outsiders

    /// @dev One state-changing settlement call by a caller that lacks the role it needs; must revert.
    function unauthorised(uint256 which, uint256 actorSeed, uint256 gameSeed) external {
        address prosumer = _prosumer(actorSeed);
        uint256 gameId = _bound(gameSeed, 1, MAX_GAMES);
        address caller;
        address target = address(settler);
        bytes memory data;
        which = which % 9;
        if (which == 0) {
            (caller, data) = (stranger, abi.encodeCall(settler.postReading, (gameId, prosumer, 1, 1)));
        } else if (which == 1) {
            (caller, data) = (operator, abi.encodeCall(settler.postReading, (gameId, prosumer, 1, 1)));
        } else if (which == 2) {
            (caller, data) = (prosumer, abi.encodeCall(settler.closeGame, (gameId, 10)));
        } else if (which == 3) {
            (caller, data) = (meter, abi.encodeCall(settler.closeGame, (gameId, 10)));
        } else if (which == 4) {
            (caller, data) = (stranger, abi.encodeCall(settler.escrowDemand, (gameId, prosumer, 1)));
        } else if (which == 5) {
            (caller, target, data) = (prosumer, address(token), abi.encodeCall(token.mint, (prosumer, 1)));
        } else if (which == 6) {
            (caller, target, data) = (clock, address(token), abi.encodeCall(token.burn, (1)));
        } else if (which == 7) {
            (caller, target, data) = (prosumer, address(market), abi.encodeCall(market.setSettlement, (prosumer)));
        } else {
            (caller, target, data) =
            (prosumer, address(market), abi.encodeCall(market.recordMetering, (prosumer, 1, 1)));
        }
        _tryUnauthorised(caller, target, data);
    }

    // ---------------------------------------------------------------- helpers

    function _mint(address to, uint256 amount) private {
        vm.prank(operator);
        token.mint(to, amount);
        minted += amount;
    }

    function _allRead(uint256 gameId) private view returns (bool) {
        IMarket.Offer[] memory offers = market.offers(gameId);
        for (uint256 j; j < offers.length; ++j) {
            if (!settler.party(gameId, offers[j].seller).read) return false;
        }
        IMarket.Demand[] memory demands = market.demands(gameId);
        for (uint256 i; i < demands.length; ++i) {
            if (!settler.party(gameId, demands[i].buyer).read) return false;
        }
        return true;
    }

    function _settlementGameIn(uint256 seed, ISettlement.Status status)
        private
        view
        returns (uint256 gameId, bool found)
    {
        uint256 count = market.gameCount();
        for (uint256 k; k < count; ++k) {
            gameId = (seed % count + k) % count + 1;
            if (settler.gameBook(gameId).status == status) return (gameId, true);
        }
        return (0, false);
    }
}
