// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

import {IMarket} from "../../src/IMarket.sol";
import {ISettlement} from "../../src/ISettlement.sol";
import {ForwardRequests} from "../utils/ForwardRequests.sol";
import {SettlementFixture} from "../utils/SettlementFixture.sol";

/// @notice Settlement without gas: a prosumer approves the settlement and demands through signed
/// requests, a meter posts readings and the clock closes through the GridForwarder.
contract SettlementForwarderTest is SettlementFixture {
    address internal relay;

    function setUp() public override {
        super.setUp();
        relay = makeAddr("relay");
    }

    function _signed(address from, uint256 key, address to, bytes memory data)
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory)
    {
        return ForwardRequests.signed(forwarder, key, from, to, data);
    }

    function _execute(ERC2771Forwarder.ForwardRequestData memory request) internal {
        vm.prank(relay);
        forwarder.execute(request);
    }

    function test_gaslessEscrowMeteringAndClose() public {
        (address buyer, uint256 buyerKey) = _newProsumerWithKey(0);
        address seller = _newProsumer(0);
        (address meterSigner, uint256 meterKey) = makeAddrAndKey("meter signer");
        (address clockSigner, uint256 clockKey) = makeAddrAndKey("clock signer");
        vm.startPrank(operator);
        market.grantRole(market.METER_ROLE(), meterSigner);
        market.grantRole(market.CLOCK_ROLE(), clockSigner);
        vm.stopPrank();

        IMarket.GameParams memory params = _params();
        params.roundLimit = 1;
        uint256 gameId = _openGame(params);
        _offer(gameId, seller, 1_000, 100_000);
        (uint256 escrow,) = settler.escrowFor(gameId, buyer, 1_000);
        vm.prank(operator);
        token.mint(buyer, escrow);

        _execute(_signed(buyer, buyerKey, address(token), abi.encodeCall(token.approve, (address(settler), escrow))));
        assertEq(token.allowance(buyer, address(settler)), escrow);
        _execute(_signed(buyer, buyerKey, address(market), abi.encodeCall(IMarket.publishDemand, (gameId, 1_000))));
        assertEq(settler.escrowOf(buyer), escrow);

        _closeRegistration(gameId);
        _execute(_signed(buyer, buyerKey, address(market), abi.encodeCall(IMarket.bid, (gameId, 1, 0, _list(1_000)))));
        settler.fixTrades(gameId, CHUNK);

        _execute(
            _signed(
                meterSigner,
                meterKey,
                address(settler),
                abi.encodeCall(ISettlement.postReading, (gameId, seller, 1_000, 0))
            )
        );
        _execute(
            _signed(
                meterSigner,
                meterKey,
                address(settler),
                abi.encodeCall(ISettlement.postReading, (gameId, buyer, 0, 1_000))
            )
        );
        assertEq(settler.gameBook(gameId).readings, 2);

        _warpToDeliveryEnd(gameId);
        _execute(
            _signed(clockSigner, clockKey, address(settler), abi.encodeCall(ISettlement.closeGame, (gameId, CHUNK)))
        );
        assertEq(token.balanceOf(seller), 200_000); // 1_000 Wh at 100_000 x (1 + 1)
        assertEq(_status(gameId), _statusOf(ISettlement.Status.Closed));
        assertEq(token.balanceOf(relay), 0);
        assertEq(token.balanceOf(address(settler)), 0);
    }
}
