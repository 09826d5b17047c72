// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";
import {SettlementHandler} from "../utils/SettlementHandler.sol";

/// @notice Stateful invariants of settlement over random sequences of games, readings, closes and
/// money movements driven by {SettlementHandler}.
contract SettlementInvariantTest is SettlementFixture {
    SettlementHandler internal handler;

    function setUp() public override {
        super.setUp();
        _lineHops();
        address[] memory prosumers = new address[](8);
        for (uint256 k; k < prosumers.length; ++k) {
            prosumers[k] = _newProsumer(SafeCast.toUint16(k % 3)); // zones 0..2
        }
        // one game with escrowed demands already bidding, so every run settles from its first calls
        IMarket.GameParams memory params = _params();
        params.roundLimit = 2;
        uint256 gameId = _openGame(params);
        for (uint256 k; k < 3; ++k) {
            _offer(gameId, prosumers[k], 1_000 + 500 * k, 60_000 + 40_000 * k);
        }
        for (uint256 k = 3; k < 8; ++k) {
            _demand(gameId, prosumers[k], 300 * k);
        }
        _closeRegistration(gameId);

        handler = new SettlementHandler(market, settler, token, [operator, clock, meter, stranger], prosumers);
        handler.openGame(300, 600, 2);

        bytes4[] memory selectors = new bytes4[](17);
        selectors[0] = SettlementHandler.openGame.selector;
        selectors[1] = SettlementHandler.publishOffer.selector;
        selectors[2] = SettlementHandler.publishDemand.selector;
        selectors[3] = SettlementHandler.closeRegistration.selector;
        selectors[4] = SettlementHandler.bid.selector;
        selectors[5] = SettlementHandler.bid.selector;
        selectors[6] = SettlementHandler.warp.selector;
        selectors[7] = SettlementHandler.fixTrades.selector;
        selectors[8] = SettlementHandler.postReading.selector;
        selectors[9] = SettlementHandler.postReading.selector; // readings are the point: more weight
        selectors[10] = SettlementHandler.postReading.selector;
        selectors[11] = SettlementHandler.closeGame.selector;
        selectors[12] = SettlementHandler.mint.selector;
        selectors[13] = SettlementHandler.burn.selector;
        selectors[14] = SettlementHandler.transfer.selector;
        selectors[15] = SettlementHandler.approve.selector;
        selectors[16] = SettlementHandler.unauthorised.selector;
        targetContract(address(handler));
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @dev Tokens are conserved: every wallet plus escrow adds up to the supply, which moves only
    /// by mint and burn.
    function invariant_tokensConserved() public view {
        address[] memory accounts = handler.accounts();
        uint256 sum;
        for (uint256 k; k < accounts.length; ++k) {
            sum += token.balanceOf(accounts[k]);
        }
        assertEq(sum, token.totalSupply(), "wallets + escrow != supply");
        assertEq(token.totalSupply(), handler.minted() - handler.burned(), "supply moved outside mint/burn");
    }

    /// @dev Every token settlement holds belongs to a game's book, and each book holds at least
    /// what its unsettled buyers still have locked: no game paid out beyond what was locked.
    function invariant_escrowCoversEveryGame() public view {
        uint256 games = market.gameCount();
        uint256 held;
        address[] memory accounts = handler.accounts();
        uint256[] memory locked = new uint256[](accounts.length);
        for (uint256 id = 1; id <= games; ++id) {
            ISettlement.GameBook memory book = settler.gameBook(id);
            held += book.held;
            IMarket.Demand[] memory demands = market.demands(id);
            uint256 remaining;
            for (uint256 i; i < demands.length; ++i) {
                ISettlement.Party memory p = settler.party(id, demands[i].buyer);
                uint256 spent = (p.chargedMilli + 999) / 1000;
                assertLe(p.locked, p.escrowed, "locked above escrow");
                assertLe(spent, p.locked, "spent beyond locked");
                if (p.settled) continue;
                remaining += p.locked - spent;
                for (uint256 a; a < accounts.length; ++a) {
                    if (accounts[a] == demands[i].buyer) locked[a] += p.locked - spent;
                }
            }
            assertGe(book.held, remaining, "game holds less than its buyers' escrow");
            IMarket.Offer[] memory offers = market.offers(id);
            uint256 read;
            for (uint256 i; i < demands.length; ++i) {
                if (settler.party(id, demands[i].buyer).read) ++read;
            }
            for (uint256 j; j < offers.length; ++j) {
                if (settler.party(id, offers[j].seller).read) ++read;
            }
            assertEq(book.readings, read, "readings != participants read");
        }
        assertEq(held, token.balanceOf(address(settler)), "settlement balance != sum of books");
        for (uint256 a; a < accounts.length; ++a) {
            assertEq(settler.escrowOf(accounts[a]), locked[a], "escrowOf != unsettled escrow");
        }
    }

    /// @dev After close a game holds no escrow and every participant is settled.
    function invariant_closedGameHoldsNothing() public view {
        uint256 games = market.gameCount();
        for (uint256 id = 1; id <= games; ++id) {
            ISettlement.GameBook memory book = settler.gameBook(id);
            if (book.status != ISettlement.Status.Closed) continue;
            assertEq(book.held, 0, "closed game holds tokens");
            IMarket.Demand[] memory demands = market.demands(id);
            for (uint256 i; i < demands.length; ++i) {
                assertTrue(settler.party(id, demands[i].buyer).settled, "buyer not settled");
            }
            IMarket.Offer[] memory offers = market.offers(id);
            for (uint256 j; j < offers.length; ++j) {
                assertTrue(settler.party(id, offers[j].seller).settled, "seller not settled");
            }
        }
    }

    /// @dev Nobody is paid for energy not delivered: delivery is within both sides' readings and
    /// trades, and a seller's payments are within its delivered energy at its price.
    function invariant_paidOnlyForDeliveredEnergy() public view {
        uint256 games = market.gameCount();
        for (uint256 id = 1; id <= games; ++id) {
            IMarket.Offer[] memory offers = market.offers(id);
            for (uint256 j; j < offers.length; ++j) {
                ISettlement.Party memory p = settler.party(id, offers[j].seller);
                assertLe(p.deliveredWh, p.read ? p.producedWh : 0, "seller delivered beyond production");
                assertLe(p.deliveredWh, p.tradedWh, "seller delivered beyond sales");
                assertLe(
                    handler.paidToSeller(id, offers[j].seller),
                    uint256(p.deliveredWh) * p.energyPrice / 1000,
                    "seller paid beyond delivery"
                );
            }
            IMarket.Demand[] memory demands = market.demands(id);
            for (uint256 i; i < demands.length; ++i) {
                ISettlement.Party memory p = settler.party(id, demands[i].buyer);
                assertLe(p.deliveredWh, p.read ? p.consumedWh : 0, "buyer took beyond consumption");
                assertLe(p.deliveredWh, p.tradedWh, "buyer took beyond purchases");
            }
        }
    }

    /// @dev No debt from a seller's shortfall: a buyer that consumed at most its demand pays every
    /// Wh from what it locked before delivery, whatever its sellers delivered; readings move no token.
    function invariant_noDebtFromShortfall() public view {
        assertEq(handler.shortfallDebts(), 0, "a buyer within its demand was left owing the grid");
        assertEq(handler.readingsThatPaid(), 0, "a reading moved tokens");
    }

    /// @dev Stats of a run (printed with -vv): how far the random games got.
    function afterInvariant() public {
        emit log_named_uint("readings", handler.readings());
        emit log_named_uint("games closed", handler.gamesClosed());
        emit log_named_uint("demands refused", handler.demandsRefused());
        emit log_named_uint("games", market.gameCount());
    }

    /// @dev No settlement, token or wiring call from a caller without the needed role succeeded.
    function invariant_onlyRolesAct() public view {
        assertEq(handler.unauthorisedSuccesses(), 0, "an unauthorised call succeeded");
    }
}
